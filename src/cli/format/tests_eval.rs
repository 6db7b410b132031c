//! Tests of template execution: control structures, variables, pipelines and functions.

use super::*;
use serde_json::json;

fn data() -> Value {
    json!({
        "ID": "3f2a9c1b7d4e5f60",
        "Names": ["web", "db"],
        "Image": "docker.io/library/alpine:latest",
        "Status": "Up 2 minutes",
        "Mounts": [],
        "Ports": [{"HostPort": 8080, "ContainerPort": 80}, {"HostPort": 8443, "ContainerPort": 443}],
        "Labels": {"b": "2", "a": "1"},
        "Size": 0,
        "Running": true,
        "Empty": "",
        "Host": {"Rootless": true, "Kernel": "6.1"}
    })
}

fn run(src: &str) -> Result<String, String> {
    Template::parse(src)
        .and_then(|t| t.with_type_name("container").render(&data()))
        .map_err(|e| e.to_string())
}

fn ok(src: &str) -> String {
    match run(src) {
        Ok(s) => s,
        Err(e) => panic!("{src:?}: {e}"),
    }
}

fn err(src: &str) -> String {
    match run(src) {
        Ok(s) => panic!("{src:?} rendered {s:?}, expected an error"),
        Err(e) => e,
    }
}

#[test]
fn range_over_lists_and_maps() {
    assert_eq!(ok("{{range .Names}}<{{.}}>{{end}}"), "<web><db>");
    assert_eq!(ok("{{range .Mounts}}x{{else}}none{{end}}"), "none");
    assert_eq!(
        ok("{{range $i, $e := .Names}}{{$i}}={{$e}} {{end}}"),
        "0=web 1=db "
    );
    assert_eq!(ok("{{range $e := .Names}}{{$e}}{{end}}"), "webdb");
    assert_eq!(
        ok("{{range $k, $v := .Labels}}{{$k}}:{{$v}};{{end}}"),
        "a:1;b:2;"
    );
    assert_eq!(ok("{{range .Labels}}{{.}}{{end}}"), "12");
    assert_eq!(
        ok("{{range .Ports}}{{.HostPort}}->{{.ContainerPort}} {{end}}"),
        "8080->80 8443->443 "
    );
    // `$` is the top-level data inside a range.
    assert_eq!(
        ok("{{range .Names}}{{$.Status}};{{end}}"),
        "Up 2 minutes;Up 2 minutes;"
    );
    let e = err("{{range .Status}}{{end}}");
    assert!(
        e.contains("range can't iterate over string Up 2 minutes"),
        "{e}"
    );
}

#[test]
fn if_else_if_else_and_truthiness() {
    let t = |cond: &str| ok(&format!("{{{{if {cond}}}}}T{{{{else}}}}F{{{{end}}}}"));
    for truthy in [
        ".Running", ".Names", ".Labels", ".Host", ".ID", "1", "\"x\"",
    ] {
        assert_eq!(t(truthy), "T", "{truthy}");
    }
    for falsy in [
        ".Mounts",
        ".Size",
        ".Empty",
        "false",
        "0",
        "nil",
        ".Labels.zzz",
        "\"\"",
    ] {
        assert_eq!(t(falsy), "F", "{falsy}");
    }
    let chain = "{{if .Empty}}a{{else if .Size}}b{{else if .Running}}c{{else}}d{{end}}";
    assert_eq!(ok(chain), "c");
    assert_eq!(ok("{{if .Size}}a{{else if .Empty}}b{{else}}d{{end}}"), "d");
    assert_eq!(ok("{{if .Size}}a{{end}}"), "");
}

#[test]
fn with_sets_dot() {
    assert_eq!(ok("{{with .Host}}{{.Kernel}}{{end}}"), "6.1");
    assert_eq!(ok("{{with .Mounts}}x{{else}}no mounts{{end}}"), "no mounts");
    assert_eq!(ok("{{with $h := .Host}}{{$h.Rootless}}{{end}}"), "true");
}

#[test]
fn variables() {
    assert_eq!(ok("{{$x := .ID}}{{$x}}"), "3f2a9c1b7d4e5f60");
    assert_eq!(ok("{{$x := 1}}{{$x = 2}}{{$x}}"), "2");
    assert_eq!(ok("{{$h := .Host}}{{$h.Kernel}}"), "6.1");
    let e = err("{{$nope}}");
    assert!(e.contains("undefined variable $nope"), "{e}");
    // A variable declared in a block is gone after {{end}}.
    let e = err("{{if true}}{{$y := 1}}{{end}}{{$y}}");
    assert!(e.contains("undefined variable $y"), "{e}");
}

#[test]
fn podman_functions() {
    assert_eq!(ok("{{join .Names \", \"}}"), "web, db");
    assert_eq!(ok("{{.Image | upper}}"), "DOCKER.IO/LIBRARY/ALPINE:LATEST");
    assert_eq!(ok("{{\"MiXeD\" | lower}}"), "mixed");
    assert_eq!(
        ok("{{title \"hello big-world foo_bar\"}}"),
        "Hello Big-World Foo_bar"
    );
    assert_eq!(ok("{{truncate .ID 12}}"), "3f2a9c1b7d4e");
    assert_eq!(ok("{{truncate \"ab\" 12}}"), "ab");
    assert_eq!(ok("[{{pad \"x\" 2 1}}]"), "[  x ]");
    assert_eq!(ok("{{split \"a:b:c\" \":\"}}"), "[a b c]");
    assert_eq!(ok("{{json .Names}}"), "[\"web\",\"db\"]");
    assert_eq!(
        ok("{{json .Host}}"),
        "{\"Rootless\":true,\"Kernel\":\"6.1\"}"
    );
    assert_eq!(ok("{{json .Labels.none}}"), "null");
}

#[test]
fn builtin_functions() {
    assert_eq!(
        ok("{{len .Names}} {{len .Mounts}} {{len .Labels}} {{len \"héllo\"}}"),
        "2 0 2 6"
    );
    assert_eq!(
        ok("{{index .Names 1}} {{index .Labels \"a\"}} {{index .Ports 0 \"HostPort\"}}"),
        "db 1 8080"
    );
    assert_eq!(ok("{{index .Labels \"zz\"}}"), "<no value>");
    assert_eq!(
        ok("{{eq .Size 0}} {{eq .Status \"x\" \"Up 2 minutes\"}} {{ne .ID \"x\"}}"),
        "true true true"
    );
    assert_eq!(
        ok("{{lt 1 2}} {{le 2 2}} {{gt 1.5 2}} {{ge \"b\" \"a\"}}"),
        "true true false true"
    );
    assert_eq!(ok("{{not .Running}} {{not .Empty}}"), "false true");
    assert_eq!(
        ok("{{and .Running .ID}}|{{and .Size .ID}}|{{or .Empty .Size}}|{{or .Empty .ID}}"),
        "3f2a9c1b7d4e5f60|0|0|3f2a9c1b7d4e5f60"
    );
    // `and` short-circuits: the bad call after a false operand never runs.
    assert_eq!(ok("{{and .Size (index .Names 9)}}"), "0");
    assert_eq!(
        ok("{{print \"a\" 1 2 \"b\"}}|{{println 1 \"x\"}}"),
        "a1 2b|1 x\n"
    );
    assert_eq!(ok("{{printf \"%s:%d %5s|%-4v|%05d %.2f %q %t %x %%\" .Status 7 \"ab\" 1 42 3.14159 \"q\" true 255}}"),
        "Up 2 minutes:7    ab|1   |00042 3.14 \"q\" true ff %");
    assert_eq!(ok("{{printf \"%s %s\" \"only\"}}"), "only %!s(MISSING)");
}

#[test]
fn pipelines_and_parentheses() {
    assert_eq!(ok("{{.Names | len}}"), "2");
    assert_eq!(ok("{{len (.Mounts)}}"), "0");
    assert_eq!(ok("{{.ID | printf \"%.4s\" | upper}}"), "3F2A");
    assert_eq!(ok("{{upper (truncate .ID 4)}}"), "3F2A");
    // The piped value is the last argument, as in Go.
    let e = err("{{.ID | truncate 4}}");
    assert!(e.contains("truncate expects a string, got int 4"), "{e}");
    assert_eq!(ok("{{(index .Ports 1).HostPort}}"), "8443");
    assert_eq!(
        ok("{{if and (eq (len .Names) 2) (not .Empty)}}yes{{end}}"),
        "yes"
    );
    let e = err("{{.Names | join \"+\"}}");
    assert!(
        e.contains("join expects a string, got list [web db]"),
        "{e}"
    );
    assert_eq!(ok("{{\"x\" | printf \"%s-%s\" \"y\"}}"), "y-x");
}

#[test]
fn execution_errors_are_clear() {
    let e = err("{{upper .Running}}");
    assert!(
        e.ends_with("executing at <upper>: upper: upper expects a string, got bool true"),
        "{e}"
    );
    let e = err("{{join .Names}}");
    assert!(
        e.contains("wrong number of args for join: want 2 got 1"),
        "{e}"
    );
    let e = err("{{index .Names 5}}");
    assert!(e.contains("index out of range: 5"), "{e}");
    let e = err("{{eq .Names 1}}");
    assert!(e.contains("non-comparable types list and int"), "{e}");
    let e = err("{{eq .ID 1}}");
    assert!(
        e.contains("incompatible types for comparison: string and int"),
        "{e}"
    );
    let e = err("{{.ID 1}}");
    assert!(
        e.contains("<.ID>: .ID is not a function and cannot take arguments"),
        "{e}"
    );
    let e = err("{{1 | .ID}}");
    assert!(e.contains("is not a function"), "{e}");
    let e = err("{{len .Size}}");
    assert!(e.contains("len of type int"), "{e}");
    let e = err("{{lt true false}}");
    assert!(e.contains("cannot order bool values"), "{e}");
    let e = err("line one\n  {{.Host.Kernal}}");
    assert!(e.starts_with("template: line 2, column 5: executing at <.Host.Kernal>: can't evaluate field Kernal in type container.Host (valid fields: Kernel, Rootless)"), "{e}");
}

#[test]
fn header_row_uses_variables_and_ranges() {
    let t = match Template::parse(
        r"table {{range .Names}}{{.}}{{end}}\t{{$h := .Host}}{{$h.Kernel}}",
    ) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    let h = t.render_header(&|p| (p == "Names").then(|| "the names".into()));
    assert_eq!(
        h.map_err(|e| e.to_string()).as_deref(),
        Ok("THE NAMES\tKERNEL")
    );
}
