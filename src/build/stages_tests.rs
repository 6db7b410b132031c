use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::build::containerfile::parse;
use crate::image::manifest::parse_platform;

fn stages_of(text: &str, args: &[(&str, &str)]) -> Stages {
    let cf = parse(Path::new("Containerfile"), text).unwrap_or_else(|e| panic!("{e}"));
    cf.stages(&build_args(args))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn build_args(args: &[(&str, &str)]) -> BuildArgs {
    let values: BTreeMap<String, String> = args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    BuildArgs::new(values, parse_platform("linux/arm64/v8"))
}

#[test]
fn meta_args_expand_from_lines_and_build_args_override() {
    let s = stages_of(
        "ARG BASE=alpine\nARG TAG=3.19\nFROM ${BASE}:${TAG} AS one\nFROM --platform=$BUILDPLATFORM busybox\n",
        &[("TAG", "3.20")],
    );
    assert_eq!(s.stages[0].base, "alpine:3.20");
    assert_eq!(s.stages[0].name.as_deref(), Some("one"));
    let host = crate::image::manifest::host_platform().to_string();
    assert_eq!(s.stages[1].platform.as_deref(), Some(host.as_str()));
    assert_eq!(s.meta.get("TARGETPLATFORM"), Some("linux/arm64/v8"));
    assert_eq!(s.meta.get("TARGETARCH"), Some("arm64"));
    assert_eq!(s.meta.get("TARGETVARIANT"), Some("v8"));
}

#[test]
fn empty_base_is_an_error_at_the_from_line() {
    let cf = parse(Path::new("Containerfile"), "FROM $NOPE\n").expect("parses");
    let e = cf.stages(&BuildArgs::default()).expect_err("empty");
    assert_eq!(e.line, 1);
    assert!(e.to_string().contains("empty image name"), "{e}");
}

#[test]
fn stage_dependencies_and_plan() {
    let text = "\
FROM alpine AS base
FROM base AS build
RUN make
FROM alpine AS docs
RUN make docs
FROM alpine AS tools
FROM scratch
COPY --from=build /out /out
COPY --from=2 /docs /docs
COPY --from=nginx:latest /etc/nginx /etc/nginx
RUN --mount=type=bind,from=tools,target=/t true
";
    let s = stages_of(text, &[]);
    assert_eq!(s.stages[1].base_stage, Some(0));
    assert_eq!(s.stages[4].deps, vec![1, 2, 3]);
    assert_eq!(s.plan(None).expect("plan"), vec![0, 1, 2, 3, 4]);
    assert_eq!(s.plan(Some("build")).expect("plan"), vec![0, 1]);
    assert_eq!(s.plan(Some("DOCS")).expect("plan"), vec![2]);
    assert_eq!(s.resolve("nginx:latest"), None);
    assert_eq!(s.resolve("Build"), Some(1));
    assert_eq!(s.resolve("4"), Some(4));
    let e = s.plan(Some("nope")).expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "Containerfile: no stage named \"nope\" for --target; stages: base, build, docs, tools"
    );
}

#[test]
fn unused_stages_are_skipped() {
    let s = stages_of(
        "FROM a AS one\nFROM b AS unused\nFROM c\nCOPY --from=one /x /x\n",
        &[],
    );
    assert_eq!(s.plan(None).expect("plan"), vec![0, 2]);
}

#[test]
fn copy_from_is_expanded_with_stage_args() {
    let s = stages_of(
        "FROM a AS variant-x\nFROM b AS variant-y\nFROM c\nARG V=x\nCOPY --from=variant-$V /a /a\n",
        &[("V", "y")],
    );
    assert_eq!(s.stages[2].deps, vec![1]);
}

#[test]
fn cycles_are_reported() {
    let s = stages_of(
        "FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nCOPY --from=one /y /y\n",
        &[],
    );
    let e = s.plan(Some("two")).expect_err("cycle");
    assert!(e.to_string().contains("two -> one -> two"), "{e}");
}

#[test]
fn duplicate_stage_names_are_refused() {
    let cf = parse(Path::new("Containerfile"), "FROM a AS x\nFROM b AS X\n").expect("parses");
    let e = cf.stages(&BuildArgs::default()).expect_err("dup");
    assert_eq!(e.line, 2);
    assert!(e.to_string().contains("duplicate stage name \"x\""), "{e}");
}

#[test]
fn unused_build_args_are_listed() {
    let s = stages_of(
        "ARG A\nFROM x\nARG B\n",
        &[
            ("A", "1"),
            ("B", "2"),
            ("C", "3"),
            ("HTTP_PROXY", "http://p"),
        ],
    );
    assert_eq!(s.unused_build_args, ["C"]);
}

#[test]
fn arg_scoping_by_docker_rules() {
    let s = stages_of("ARG VERSION=1.0\nARG ONLY_META=m\nFROM x\n", &[]);
    let args = build_args(&[("HTTP_PROXY", "http://proxy"), ("OVER", "cli")]);
    let mut vars = StageVars::new(&s.meta, &args);
    // Meta args are invisible until re-declared.
    assert_eq!(vars.expansion_env().get("VERSION"), None);
    vars.declare("VERSION", None);
    assert_eq!(vars.expansion_env().get("VERSION"), Some("1.0"));
    // Platform args need a declaration too.
    assert_eq!(vars.expansion_env().get("TARGETOS"), None);
    vars.declare("TARGETOS", None);
    assert_eq!(vars.expansion_env().get("TARGETOS"), Some("linux"));
    // --build-arg beats the default; no value at all leaves it unset.
    vars.declare("OVER", Some("default"));
    assert_eq!(vars.args().get("OVER"), Some("cli"));
    vars.declare("NOVALUE", None);
    assert_eq!(vars.args().get("NOVALUE"), None);
    // ENV beats ARG of the same name.
    vars.set_env("VERSION", "env");
    assert_eq!(vars.expansion_env().get("VERSION"), Some("env"));
    let run = vars.run_env();
    assert_eq!(run.get("VERSION"), Some("env"));
    assert_eq!(run.get("OVER"), Some("cli"));
    // Proxy args reach RUN undeclared; other build args do not.
    assert_eq!(run.get("HTTP_PROXY"), Some("http://proxy"));
    assert_eq!(vars.expansion_env().get("HTTP_PROXY"), None);
    assert_eq!(vars.env().to_strings(), ["VERSION=env"]);
}

#[test]
fn kitchen_sink_stages() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/build/kitchen-sink/Containerfile");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let cf = parse(&path, &text).expect("parses");
    let s = cf
        .stages(&build_args(&[("BASE", "localhost/busybox")]))
        .expect("stages");
    assert_eq!(s.stages.len(), 3);
    assert!(s.stages.iter().all(|st| st.base == "localhost/busybox"));
    assert_eq!(s.stages[2].platform.as_deref(), Some("linux/arm64/v8"));
    assert_eq!(s.plan(None).expect("plan"), vec![0, 2]);
}
