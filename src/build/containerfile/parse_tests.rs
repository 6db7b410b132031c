use std::path::Path;
use std::time::Duration;

use super::*;
use crate::build::expand::Env;

fn p(text: &str) -> Containerfile {
    parse(Path::new("Containerfile"), text).unwrap_or_else(|e| panic!("{e}"))
}

/// The instructions after `FROM busybox` of `body`.
fn body(body: &str) -> Vec<Instruction> {
    let cf = p(&format!("FROM busybox\n{body}"));
    cf.steps[1..]
        .iter()
        .map(|s| s.instruction.clone())
        .collect()
}

fn one(text: &str) -> Instruction {
    let mut v = body(text);
    assert_eq!(v.len(), 1, "{v:?}");
    v.remove(0)
}

fn err(text: &str) -> ParseError {
    parse(Path::new("Containerfile"), text).expect_err(text)
}

fn shell(s: &str) -> ShellOrExec {
    ShellOrExec::Shell(s.into())
}

fn exec(v: &[&str]) -> ShellOrExec {
    ShellOrExec::Exec(v.iter().map(|s| s.to_string()).collect())
}

#[test]
fn from_forms() {
    let cf = p("FROM --platform=linux/arm64 alpine:3.20 AS Build\nFROM scratch\n");
    assert_eq!(
        cf.steps[0].instruction,
        Instruction::From {
            image: "alpine:3.20".into(),
            platform: Some("linux/arm64".into()),
            alias: Some("build".into()),
        }
    );
    assert_eq!(cf.steps[1].line, 2);
    let e = err("FROM a b\n");
    assert!(
        e.to_string()
            .starts_with("Containerfile:1: FROM: FROM takes one or three"),
        "{e}"
    );
    let e = err("FROM a AS 1bad\n");
    assert!(e.to_string().contains("invalid stage name"), "{e}");
}

#[test]
fn directives_only_at_the_top() {
    let cf = p("# syntax=docker/dockerfile:1\n#escape=`\nFROM x\nRUN a `\n  b\n");
    assert_eq!(cf.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(cf.directives.escape, '`');
    assert_eq!(
        cf.steps[1].instruction,
        Instruction::Run(run(shell("a   b")))
    );
    // After a comment or a blank line, a directive is just a comment.
    let cf = p("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n");
    assert_eq!(cf.directives.escape, '\\');
    let cf = p("\n# escape=`\nFROM x\n");
    assert_eq!(cf.directives.escape, '\\');
    let e = err("# escape=x\nFROM x\n");
    assert!(
        e.to_string().contains("invalid escape character \"x\""),
        "{e}"
    );
    let e = err("# escape=`\n# escape=\\\nFROM x\n");
    assert_eq!(e.line, 2);
}

fn run(cmd: ShellOrExec) -> Run {
    Run {
        cmd,
        heredocs: vec![],
        mounts: vec![],
        network: None,
        security: None,
    }
}

#[test]
fn continuations_comments_and_empty_lines() {
    let cf = p("FROM x\n# a comment\n  RUN apt-get update \\\n# inside\n\n   && apt-get install -y \\\n\tcurl\nUSER me\n");
    assert_eq!(
        cf.steps[1].instruction,
        Instruction::Run(run(shell("apt-get update    && apt-get install -y \tcurl")))
    );
    assert_eq!(cf.steps[1].line, 3);
    assert_eq!(cf.steps[2].line, 8);
    assert!(cf.steps[1].original.starts_with("RUN apt-get update"));
    // A trailing escape with blanks after it still continues; CRLF endings work.
    let cf = p("FROM x\r\nRUN a \\  \r\n b\r\n");
    assert_eq!(
        cf.steps[1].instruction,
        Instruction::Run(run(shell("a  b")))
    );
    // A continuation at the end of the file ends the instruction.
    let cf = p("FROM x\nRUN a \\");
    assert_eq!(cf.steps[1].instruction, Instruction::Run(run(shell("a"))));
}

#[test]
fn keywords_are_case_insensitive() {
    let cf = p("from x\nrun echo hi\nWorkDir /a\n");
    assert_eq!(cf.steps[1].instruction.name(), "RUN");
    assert_eq!(cf.steps[2].instruction, Instruction::Workdir("/a".into()));
}

#[test]
fn run_shell_exec_and_flags() {
    assert_eq!(one("RUN echo hi"), Instruction::Run(run(shell("echo hi"))));
    assert_eq!(
        one(r#"RUN ["echo", "hi there"]"#),
        Instruction::Run(run(exec(&["echo", "hi there"])))
    );
    // Not valid JSON: the shell form.
    assert_eq!(
        one("RUN [ -f x ]"),
        Instruction::Run(run(shell("[ -f x ]")))
    );
    let Instruction::Run(r) = one(
        "RUN --mount=type=cache,target=/root/.cache,id=pip --mount=type=bind,from=builder,src=/out,dst=/in,ro --network=none --security=insecure pip install x",
    ) else {
        panic!("run")
    };
    assert_eq!(r.cmd, shell("pip install x"));
    assert_eq!(r.network, Some(RunNetwork::None));
    assert_eq!(r.security.as_deref(), Some("insecure"));
    assert_eq!(r.mounts[0].kind, MountKind::Cache);
    assert_eq!(r.mounts[0].target.as_deref(), Some("/root/.cache"));
    assert_eq!(r.mounts[0].option("id"), Some("pip"));
    assert_eq!(r.mounts[1].kind, MountKind::Bind);
    assert_eq!(r.mounts[1].option("from"), Some("builder"));
    assert_eq!(r.mounts[1].option("source"), Some("/out"));
    assert_eq!(r.mounts[1].option("readonly"), Some("true"));
    let Instruction::Run(r) = one("RUN --mount=type=secret,id=tok cat /run/secrets/tok") else {
        panic!("run")
    };
    assert_eq!(r.mounts[0].kind, MountKind::Secret);
    for (bad, needle) in [
        ("RUN --network=bridge x", "unknown --network=bridge"),
        ("RUN --mount=type=nfs,target=/x x", "unknown mount type"),
        ("RUN --mount=type=cache x", "has no target"),
        ("RUN --bogus=1 x", "unknown flag --bogus"),
        ("RUN --network x", "--network needs a value"),
        ("RUN", "RUN needs an argument"),
    ] {
        let e = err(&format!("FROM x\n{bad}\n"));
        assert!(e.to_string().contains(needle), "{bad}: {e}");
        assert_eq!(e.line, 2);
        assert_eq!(e.instruction.as_deref(), Some("RUN"));
    }
}

#[test]
fn run_heredocs() {
    let cf = p("FROM x\nRUN <<EOF\necho $HOME\n  indented\nEOF\nUSER u\n");
    let Instruction::Run(r) = &cf.steps[1].instruction else {
        panic!("run")
    };
    assert_eq!(r.heredocs.len(), 1);
    let h = &r.heredocs[0];
    assert_eq!(h.name, "EOF");
    assert_eq!(h.content, "echo $HOME\n  indented\n");
    assert!(h.expand);
    assert!(r.lone_heredoc().is_some());
    assert_eq!(cf.steps[2].line, 6);

    // <<- strips leading tabs, quoted delimiters disable expansion, two heredocs on one line.
    let cf = p("FROM x\nRUN cat <<-\"A\" > /a && 3<<'B' cat\n\tone\n\t\ttwo\n\tA\nb\nB\n");
    let Instruction::Run(r) = &cf.steps[1].instruction else {
        panic!("run")
    };
    assert_eq!(r.heredocs[0].content, "one\ntwo\n");
    assert!(r.heredocs[0].chomp_tabs && !r.heredocs[0].expand);
    assert_eq!(r.heredocs[1].name, "B");
    assert_eq!(r.heredocs[1].fd, Some(3));
    assert!(!r.heredocs[1].expand);
    assert!(r.lone_heredoc().is_none());
    assert_eq!(
        r.shell_script().as_deref(),
        Some("cat <<-\"A\" > /a && 3<<'B' cat\none\ntwo\nA\nb\nB")
    );

    // A heredoc body keeps lines that look like comments or instructions.
    let cf = p("FROM x\nRUN python3 <<PY\n# not a comment\nFROM y\nPY\n");
    assert_eq!(cf.steps.len(), 2);
    // Not heredocs: inside quotes, here-strings, exec form.
    for text in [
        "RUN echo \"<<EOF\"",
        "RUN cat <<<word",
        r#"RUN ["cat", "<<EOF"]"#,
    ] {
        let Instruction::Run(r) = one(text) else {
            panic!("run")
        };
        assert!(r.heredocs.is_empty(), "{text}");
    }
    let e = err("FROM x\nRUN <<EOF\nnever closed\n");
    assert_eq!(e.line, 2);
    assert!(e.to_string().contains("<<EOF is never closed"), "{e}");
}

#[test]
fn copy_and_add() {
    let Instruction::Copy(c) = one(
        "COPY --from=builder --chown=1000:1000 --chmod=0755 --link --exclude=*.md --exclude=tmp a b* /dst/",
    ) else {
        panic!("copy")
    };
    assert_eq!(
        c.sources,
        vec![CopySource::Path("a".into()), CopySource::Path("b*".into())]
    );
    assert_eq!(c.dest, "/dst/");
    assert_eq!(c.from.as_deref(), Some("builder"));
    assert_eq!(c.chown.as_deref(), Some("1000:1000"));
    assert_eq!(c.chmod.as_deref(), Some("0755"));
    assert!(c.link);
    assert_eq!(c.excludes, ["*.md", "tmp"]);
    let Instruction::Copy(c) = one(r#"COPY ["with space", "/dst dir/"]"#) else {
        panic!("copy")
    };
    assert_eq!(c.sources, vec![CopySource::Path("with space".into())]);
    assert_eq!(c.dest, "/dst dir/");

    let Instruction::Add(a) = one(
        "ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /",
    ) else {
        panic!("add")
    };
    assert!(a.checksum.is_some());
    assert!(is_remote(match &a.sources[0] {
        CopySource::Path(p) => p,
        CopySource::Heredoc(_) => "",
    }));
    for (bad, needle) in [
        ("COPY onlyone", "at least one source and a destination"),
        (
            "ADD --checksum=sha256:00 local.tar /",
            "only applies to URL sources",
        ),
        ("ADD --from=x a /", "unknown flag --from"),
        ("COPY --checksum=sha256:00 a /", "unknown flag --checksum"),
        ("COPY --link=maybe a /", "not a boolean"),
        ("COPY --chown=1 --chown=2 a /", "given 2 times"),
    ] {
        let e = err(&format!("FROM x\n{bad}\n"));
        assert!(e.to_string().contains(needle), "{bad}: {e}");
    }
}

#[test]
fn copy_heredocs_become_sources() {
    let cf = p(
        "FROM x\nCOPY <<one.txt <<'two.txt' keep /dst/\nfirst $A\none.txt\nsecond $A\ntwo.txt\n",
    );
    let Instruction::Copy(c) = &cf.steps[1].instruction else {
        panic!("copy")
    };
    let CopySource::Heredoc(h1) = &c.sources[0] else {
        panic!("heredoc")
    };
    assert_eq!(
        (h1.name.as_str(), h1.content.as_str()),
        ("one.txt", "first $A\n")
    );
    assert!(matches!(&c.sources[1], CopySource::Heredoc(h) if h.name == "two.txt" && !h.expand));
    assert_eq!(c.sources[2], CopySource::Path("keep".into()));
    // Expansion fills the unquoted heredoc only.
    let env: Env = [("A", "x")].into_iter().collect();
    let Instruction::Copy(c) = cf.steps[1].expand(&env).expect("expands") else {
        panic!("copy")
    };
    assert!(matches!(&c.sources[0], CopySource::Heredoc(h) if h.content == "first x\n"));
    assert!(matches!(&c.sources[1], CopySource::Heredoc(h) if h.content == "second $A\n"));
}

#[test]
fn env_label_and_arg() {
    assert_eq!(
        one(r#"ENV A=1 B="two words" C=three\ words"#),
        Instruction::Env(vec![
            ("A".into(), "1".into()),
            ("B".into(), "\"two words\"".into()),
            ("C".into(), "three\\ words".into()),
        ])
    );
    assert_eq!(
        one("ENV LEGACY some value here"),
        Instruction::Env(vec![("LEGACY".into(), "some value here".into())])
    );
    assert_eq!(
        one(r#"LABEL "com.example.vendor"="ACME Inc" version=1.0"#),
        Instruction::Label(vec![
            ("\"com.example.vendor\"".into(), "\"ACME Inc\"".into()),
            ("version".into(), "1.0".into()),
        ])
    );
    assert_eq!(
        one("ARG A B=2 C="),
        Instruction::Arg(vec![
            ArgDecl {
                name: "A".into(),
                default: None
            },
            ArgDecl {
                name: "B".into(),
                default: Some("2".into())
            },
            ArgDecl {
                name: "C".into(),
                default: Some(String::new())
            },
        ])
    );
    // Expansion removes quotes and escapes.
    let step = &p("FROM x\nENV B=\"two words\" C=three\\ words D=$A\n").steps[1];
    let env: Env = [("A", "a")].into_iter().collect();
    assert_eq!(
        step.expand(&env).expect("expands"),
        Instruction::Env(vec![
            ("B".into(), "two words".into()),
            ("C".into(), "three words".into()),
            ("D".into(), "a".into()),
        ])
    );
    for (bad, needle) in [
        ("ENV ONLYKEY", "has no value"),
        ("ENV A=1 novalue", "is not KEY=VALUE"),
        ("LABEL =x", "is not KEY=VALUE"),
        ("ARG 1abc", "invalid ARG name"),
        ("ENV --x=1 A=b", "unknown flag --x"),
    ] {
        let e = err(&format!("FROM x\n{bad}\n"));
        assert!(e.to_string().contains(needle), "{bad}: {e}");
    }
}

#[test]
fn config_instructions() {
    let got = body(
        "WORKDIR /a b\nUSER 1000:1000\nCMD [\"sh\"]\nCMD echo $HOME\nENTRYPOINT [\"/tini\", \"--\"]\nEXPOSE 80 53/udp 8000-8010/tcp $PORT\nVOLUME /a /b\nVOLUME [\"/c\"]\nSHELL [\"/bin/bash\", \"-c\"]\nSTOPSIGNAL SIGKILL\nMAINTAINER Jane <j@x>\n",
    );
    assert_eq!(
        got,
        vec![
            Instruction::Workdir("/a b".into()),
            Instruction::User("1000:1000".into()),
            Instruction::Cmd(exec(&["sh"])),
            Instruction::Cmd(shell("echo $HOME")),
            Instruction::Entrypoint(exec(&["/tini", "--"])),
            Instruction::Expose(vec![
                "80".into(),
                "53/udp".into(),
                "8000-8010/tcp".into(),
                "$PORT".into()
            ]),
            Instruction::Volume(vec!["/a".into(), "/b".into()]),
            Instruction::Volume(vec!["/c".into()]),
            Instruction::Shell(vec!["/bin/bash".into(), "-c".into()]),
            Instruction::Stopsignal("SIGKILL".into()),
            Instruction::Maintainer("Jane <j@x>".into()),
        ]
    );
    for (bad, needle) in [
        ("SHELL /bin/bash -c", "JSON array"),
        ("SHELL []", "JSON array"),
        ("EXPOSE 99999", "invalid port"),
        ("EXPOSE 80/icmp", "invalid port"),
        ("VOLUME [\"\"]", "empty path"),
        ("CMD", "CMD needs an argument"),
    ] {
        let e = err(&format!("FROM x\n{bad}\n"));
        assert!(e.to_string().contains(needle), "{bad}: {e}");
    }
}

#[test]
fn healthcheck_forms() {
    assert_eq!(
        one("HEALTHCHECK NONE"),
        Instruction::Healthcheck(Healthcheck::None)
    );
    assert_eq!(
        one("HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=5s --start-interval=1s --retries=3 CMD curl -f http://x/ || exit 1"),
        Instruction::Healthcheck(Healthcheck::Cmd {
            test: shell("curl -f http://x/ || exit 1"),
            interval: Some(Duration::from_secs(90)),
            timeout: Some(Duration::from_millis(500)),
            start_period: Some(Duration::from_secs(5)),
            start_interval: Some(Duration::from_secs(1)),
            retries: Some(3),
        })
    );
    assert!(matches!(
        one("HEALTHCHECK CMD [\"/check\"]"),
        Instruction::Healthcheck(Healthcheck::Cmd {
            test: ShellOrExec::Exec(_),
            interval: None,
            ..
        })
    ));
    for (bad, needle) in [
        ("HEALTHCHECK NONE x", "takes no arguments"),
        ("HEALTHCHECK --interval=5s NONE", "takes no arguments"),
        ("HEALTHCHECK CMD", "has no command"),
        ("HEALTHCHECK --interval=5 CMD x", "not a duration"),
        ("HEALTHCHECK --interval=10us CMD x", "shorter than 1ms"),
        ("HEALTHCHECK --retries=-1 CMD x", "not a count"),
        ("HEALTHCHECK --bogus=1 CMD x", "unknown flag --bogus"),
        ("HEALTHCHECK PING x", "type \"PING\" is unknown"),
    ] {
        let e = err(&format!("FROM x\n{bad}\n"));
        assert!(e.to_string().contains(needle), "{bad}: {e}");
    }
}

#[test]
fn durations_like_go() {
    assert_eq!(parse_duration("0"), Some(Duration::ZERO));
    assert_eq!(parse_duration("1h2m3s"), Some(Duration::from_secs(3723)));
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("10us"), Some(Duration::from_micros(10)));
    for bad in ["", "5", "s", "1d", "-1s", "1.2.3s"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn onbuild_triggers() {
    assert_eq!(
        one("ONBUILD RUN echo hi"),
        Instruction::Onbuild {
            trigger: "RUN echo hi".into(),
            inner: Box::new(Instruction::Run(run(shell("echo hi")))),
        }
    );
    for bad in [
        "ONBUILD ONBUILD RUN x",
        "ONBUILD FROM x",
        "ONBUILD MAINTAINER x",
    ] {
        let e = err(&format!("FROM x\n{bad}\n"));
        assert!(
            e.to_string().contains("not allowed as an ONBUILD trigger"),
            "{e}"
        );
    }
    let e = err("FROM x\nONBUILD BOGUS\n");
    assert!(e.to_string().contains("unknown instruction"), "{e}");
}

#[test]
fn unknown_instructions_list_the_valid_ones() {
    let e = err("FROM x\nCOPPY a b\n");
    assert_eq!(e.line, 2);
    assert_eq!(e.instruction, None);
    let s = e.to_string();
    assert!(
        s.starts_with("Containerfile:2: unknown instruction \"COPPY\""),
        "{s}"
    );
    assert!(s.contains("did you mean COPY?"), "{s}");
    assert!(s.contains("ADD, ARG, CMD, COPY"), "{s}");
}

#[test]
fn file_level_rules() {
    let e = err("# only comments\n");
    assert!(e.to_string().contains("no FROM instruction"), "{e}");
    let e = err("ARG A\nRUN x\nFROM y\n");
    assert_eq!((e.line, e.instruction.as_deref()), (2, Some("RUN")));
    assert!(
        e.to_string()
            .contains("only ARG may come before the first FROM"),
        "{e}"
    );
    let e = parse(Path::new("dir/Dockerfile.dev"), "FROM x\nRUN\n").expect_err("empty run");
    assert!(
        e.to_string().starts_with("dir/Dockerfile.dev:2: RUN: "),
        "{e}"
    );
}

#[test]
fn expansion_applies_where_docker_expands() {
    let cf = p("FROM $IMG\nRUN echo $A\nCMD echo $A\nWORKDIR $A/w\nUSER ${U:-nobody}\nCOPY --chown=$U $A /${A}dst\nLABEL $A=\"$A v\"\nEXPOSE ${PORT}\nVOLUME $A\nSTOPSIGNAL $SIG\nARG X=$A\nONBUILD RUN $A\nHEALTHCHECK CMD $A\n");
    let env: Env = [("IMG", "alpine"), ("A", "a"), ("PORT", "80"), ("SIG", "9")]
        .into_iter()
        .collect();
    let got: Vec<Instruction> = cf
        .steps
        .iter()
        .map(|s| s.expand(&env).expect("expands"))
        .collect();
    assert!(matches!(&got[0], Instruction::From { image, .. } if image == "alpine"));
    assert_eq!(got[1], Instruction::Run(run(shell("echo $A"))));
    assert_eq!(got[2], Instruction::Cmd(shell("echo $A")));
    assert_eq!(got[3], Instruction::Workdir("a/w".into()));
    assert_eq!(got[4], Instruction::User("nobody".into()));
    let Instruction::Copy(c) = &got[5] else {
        panic!("copy")
    };
    assert_eq!((c.chown.as_deref(), c.dest.as_str()), (Some(""), "/adst"));
    assert_eq!(c.sources, vec![CopySource::Path("a".into())]);
    assert_eq!(got[6], Instruction::Label(vec![("a".into(), "a v".into())]));
    assert_eq!(got[7], Instruction::Expose(vec!["80".into()]));
    assert_eq!(got[8], Instruction::Volume(vec!["a".into()]));
    assert_eq!(got[9], Instruction::Stopsignal("9".into()));
    assert_eq!(
        got[10],
        Instruction::Arg(vec![ArgDecl {
            name: "X".into(),
            default: Some("a".into())
        }])
    );
    assert!(matches!(&got[11], Instruction::Onbuild { trigger, .. } if trigger == "RUN $A"));
    assert!(
        matches!(&got[12], Instruction::Healthcheck(Healthcheck::Cmd { test, .. }) if *test == shell("$A"))
    );
}

#[test]
fn kitchen_sink_fixture_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/build/kitchen-sink/Containerfile");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let cf = parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<&str> = cf.steps.iter().map(|s| s.instruction.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names, INSTRUCTIONS, "the fixture uses every instruction");
    assert_eq!(cf.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    let heredoc_runs = cf
        .steps
        .iter()
        .filter(|s| matches!(&s.instruction, Instruction::Run(r) if !r.heredocs.is_empty()))
        .count();
    assert_eq!(heredoc_runs, 1);
    let adduser = cf
        .steps
        .iter()
        .find(|s| s.original.contains("/etc/passwd"))
        .expect("the step adding the app user");
    assert!(
        !adduser.original.contains("comments inside"),
        "{}",
        adduser.original
    );
}
