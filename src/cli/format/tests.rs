//! Tests of the public API: printing of values, `table` and headers, tabwriter alignment,
//! JSON output, `OutputFormat` and the error messages.

use super::*;
use serde_json::json;

fn render(src: &str, data: &Value) -> String {
    match Template::parse(src).and_then(|t| t.render(data)) {
        Ok(s) => s,
        Err(e) => panic!("{src:?}: {e}"),
    }
}

fn render_err(src: &str, data: &Value) -> String {
    match Template::parse(src).and_then(|t| t.with_type_name("container").render(data)) {
        Ok(s) => panic!("{src:?} rendered {s:?}, expected an error"),
        Err(e) => e.to_string(),
    }
}

fn no_headers(_: &str) -> Option<String> {
    None
}

#[test]
fn go_printing_of_values() {
    let d = json!({
        "S": "text", "I": 42, "N": -7, "F": 2.5, "Whole": 3.0, "Big": 1e6, "Small": 0.00001,
        "T": true, "Nil": null, "L": ["a", "b", 3], "E": [], "M": {"b": 2, "a": "x", "c": null},
        "Nested": [["a", "b"], {"k": [1]}], "U": 18446744073709551615u64
    });
    let cases = [
        ("{{.S}}", "text"),
        ("{{.I}}", "42"),
        ("{{.N}}", "-7"),
        ("{{.F}}", "2.5"),
        ("{{.Whole}}", "3"),
        ("{{.Big}}", "1e+06"),
        ("{{.Small}}", "1e-05"),
        ("{{.T}}", "true"),
        ("{{.Nil}}", "<no value>"),
        ("{{.L}}", "[a b 3]"),
        ("{{.E}}", "[]"),
        ("{{.M}}", "map[a:x b:2 c:<nil>]"),
        ("{{.Nested}}", "[[a b] map[k:[1]]]"),
        ("{{.U}}", "18446744073709551615"),
        (
            "{{123456.0}} {{1234567.5}} {{0.0001}} {{-0.5}}",
            "123456 1.2345675e+06 0.0001 -0.5",
        ),
    ];
    for (src, want) in cases {
        assert_eq!(render(src, &d), want, "{src}");
    }
}

#[test]
fn dot_and_nested_fields() {
    let d = json!({"Host": {"Rootless": true, "Kernel": "6.1"}, "Store": {"GraphRoot": "/x"}});
    assert_eq!(
        render(
            "{{.Host.Rootless}} {{.Host.Kernel}} {{.Store.GraphRoot}}",
            &d
        ),
        "true 6.1 /x"
    );
    assert_eq!(render("{{.}}", &json!("plain")), "plain");
    assert_eq!(render("{{.Store}}", &d), "map[GraphRoot:/x]");
}

#[test]
fn cli_escapes_and_trim_markers() {
    let d = json!({"A": "a", "B": "b"});
    assert_eq!(render(r"{{.A}}\t{{.B}}\n", &d), "a\tb\n");
    assert_eq!(render("x  {{- .A -}}  \n y", &d), "xay");
    assert_eq!(render(r"{{.A}} \n {{- .B}}", &d), "ab");
    // `{{-3}}` is the number -3, not a trim marker.
    assert_eq!(render("{{-3}}", &d), "-3");
    assert_eq!(
        render("a{{/* a comment */}}b{{- /* trimmed */ -}} c", &d),
        "abc"
    );
}

#[test]
fn literals() {
    let d = json!({});
    assert_eq!(render(r#"{{"q\"uote\t\x41\u00e9"}}"#, &d), "q\"uote\tAé");
    assert_eq!(render("{{`raw\\d`}}", &d), "raw\\d");
    assert_eq!(
        render("{{0x1F}} {{1_000}} {{1.5}} {{true}} {{false}}", &d),
        "31 1000 1.5 true false"
    );
}

#[test]
fn table_with_headers_and_alignment() {
    let rows = vec![
        json!({"ID": "c061a0839e", "Value": "one", "CreatedAt": "now"}),
        json!({"ID": "f10fc2e11057", "Value": "two", "CreatedAt": "then"}),
        json!({"ID": "1eb6fab5aa8f4b5cbfd3e66aa35e9b2a", "Value": "three", "CreatedAt": "x"}),
    ];
    let t = match Template::parse(r"table {{.ID}}\t{{.Value}}\t{{.CreatedAt}}") {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    assert!(t.is_table());
    assert!(!t.is_default_table());
    let headers = |p: &str| (p == "ID").then(|| "container id".to_string());
    let out = render_list(&t, &rows, &headers).map_err(|e| e.to_string());
    let want = "\
CONTAINER ID                      VALUE       CREATED AT
c061a0839e                        one         now
f10fc2e11057                      two         then
1eb6fab5aa8f4b5cbfd3e66aa35e9b2a  three       x
";
    assert_eq!(out.as_deref(), Ok(want));
}

#[test]
fn table_header_goes_through_functions_and_blocks() {
    let rows = vec![json!({"Names": ["a", "b"], "Host": {"Kernel": "6.1"}, "Mounts": []})];
    let t = Template::parse(
        r#"table {{join .Names ","}}\t{{.Host.Kernel | upper}}\t{{len (.Mounts)}}\t{{if .Names}}{{.Host.Kernel}}{{end}}"#,
    );
    let out = t.and_then(|t| render_list(&t, &rows, &no_headers));
    let want =
        "NAMES       KERNEL      MOUNTS      KERNEL\na,b         6.1         0           6.1\n";
    assert_eq!(out.map_err(|e| e.to_string()).as_deref(), Ok(want));
}

#[test]
fn table_with_no_rows_prints_the_header() {
    let t = Template::parse("table {{.ID}}\t{{.Image}}").map_err(|e| e.to_string());
    let out = t.and_then(|t| render_list(&t, &[], &no_headers).map_err(|e| e.to_string()));
    assert_eq!(out.as_deref(), Ok("ID          IMAGE\n"));
}

#[test]
fn table_alone_is_the_default_table() {
    let t = Template::parse("table").map_err(|e| e.to_string());
    assert!(t
        .as_ref()
        .is_ok_and(|t| t.is_default_table() && t.is_table()));
    let r = t.and_then(|t| render_list(&t, &[json!({})], &no_headers).map_err(|e| e.to_string()));
    assert!(r.is_err_and(|e| e.contains("default table")));
    assert!(matches!(
        OutputFormat::parse(Some("table")),
        Ok(OutputFormat::Default)
    ));
    assert!(matches!(
        OutputFormat::parse(Some(" table ")),
        Ok(OutputFormat::Default)
    ));
}

#[test]
fn list_rows_get_a_newline_unless_the_template_has_one() {
    let rows = vec![json!({"ID": "a"}), json!({"ID": "b"})];
    let render = |src: &str| {
        Template::parse(src)
            .and_then(|t| render_list(&t, &rows, &no_headers))
            .map_err(|e| e.to_string())
    };
    assert_eq!(render("{{.ID}}").as_deref(), Ok("a\nb\n"));
    assert_eq!(render(r"{{.ID}}\n").as_deref(), Ok("a\nb\n"));
    assert_eq!(render("{{.ID}}\n").as_deref(), Ok("a\nb\n"));
    // Not a table: tabs stay tabs.
    assert_eq!(render(r"{{.ID}}\tx").as_deref(), Ok("a\tx\nb\tx\n"));
}

#[test]
fn output_format_parse() {
    assert!(matches!(
        OutputFormat::parse(None),
        Ok(OutputFormat::Default)
    ));
    assert!(matches!(
        OutputFormat::parse(Some("")),
        Ok(OutputFormat::Default)
    ));
    for j in ["json", "JSON", " Json "] {
        assert!(
            matches!(OutputFormat::parse(Some(j)), Ok(OutputFormat::Json)),
            "{j}"
        );
    }
    match OutputFormat::parse(Some("{{json .}}")) {
        Ok(OutputFormat::Template(t)) => {
            assert_eq!(t.render(&json!([1])).ok().as_deref(), Some("[1]"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        OutputFormat::parse(Some("{{.X")),
        Err(FormatError::Parse { .. })
    ));
}

#[test]
fn tabwriter_matches_go() {
    let rows: Vec<Vec<String>> = [
        vec!["REPOSITORY", "TAG", "IMAGE ID"],
        vec!["docker.io/library/alpine", "latest", "abc"],
        vec!["x", "a-very-long-tag-name", "def"],
    ]
    .iter()
    .map(|r| r.iter().map(|s| s.to_string()).collect())
    .collect();
    let want = "\
REPOSITORY                TAG                   IMAGE ID
docker.io/library/alpine  latest                abc
x                         a-very-long-tag-name  def
";
    assert_eq!(tabwrite(&rows), want);
    // Width counts characters, not bytes; a line without tabs ends the column block.
    let text = "é\tb\nno tabs here\nlonger-than-twelve\tc\n";
    assert_eq!(
        table::align(text),
        "é           b\nno tabs here\nlonger-than-twelve  c\n"
    );
    // Trailing empty cells are padded like Go does.
    assert_eq!(table::align("a\tb\t\n"), "a           b           \n");
}

#[test]
fn headers_split_camel_case() {
    assert_eq!(default_header("CreatedAt"), "CREATED AT");
    assert_eq!(default_header("ID"), "ID");
    assert_eq!(default_header("PIDFile"), "PID FILE");
    assert_eq!(default_header("Host.GraphRoot"), "GRAPH ROOT");
    assert_eq!(default_header("Http2Port"), "HTTP 2 PORT");
    assert_eq!(default_header("Names"), "NAMES");
}

#[test]
fn json_like_go() {
    let v = json!({"A": [1, 2.5, 3.0, 1e21, 1e-7], "B": "<&>\u{2028}\u{1}\n", "C": {}, "D": [], "E": null});
    assert_eq!(
        to_json(&v, None),
        r#"{"A":[1,2.5,3,1e+21,1e-7],"B":"<&>\u2028\u0001\n","C":{},"D":[],"E":null}"#
    );
    let pretty = to_json_pretty(&json!([{"Id": "x", "Names": ["a"], "Labels": {}}]));
    // Objects keep their field order, as Go's encoding of a struct does.
    let want = "[\n  {\n    \"Id\": \"x\",\n    \"Names\": [\n      \"a\"\n    ],\n    \"Labels\": {}\n  }\n]\n";
    assert_eq!(pretty, want);
    assert_eq!(to_json_inspect(&json!({"A": 1})), "{\n     \"A\": 1\n}\n");
    assert_eq!(to_json_pretty(&json!([])), "[]\n");
}

#[test]
fn unknown_field_lists_valid_fields() {
    let d = json!({"ID": "x", "Names": "n", "Image": "i"});
    assert_eq!(
        render_err("ps {{.Nmes}}", &d),
        "template: line 1, column 6: executing at <.Nmes>: can't evaluate field Nmes in type container (valid fields: ID, Image, Names)"
    );
    let d = json!({"Host": {"Kernel": "6.1", "Arch": "x"}});
    assert_eq!(
        render_err("{{.Host.Kernl}}", &d),
        "template: line 1, column 3: executing at <.Host.Kernl>: can't evaluate field Kernl in type container.Host (valid fields: Arch, Kernel)"
    );
    let d = json!({"Mounts": [{"Dst": "/a"}, {"Src": "/b"}]});
    let e = render_err("{{range .Mounts}}{{.Dst}}{{end}}", &d);
    assert!(
        e.contains("can't evaluate field Dst in type container.Mounts[1] (valid fields: Src)"),
        "{e}"
    );
    let e = render_err("{{.ID.Short}}", &json!({"ID": "abc"}));
    assert!(
        e.contains("can't evaluate field Short in type string"),
        "{e}"
    );
}

#[test]
fn missing_map_keys_and_nulls_print_no_value() {
    let d = json!({"Labels": {"app": "web"}, "Empty": {}, "State": {"Health": null}});
    assert_eq!(
        render("{{.Labels.app}} {{.Labels.missing}}", &d),
        "web <no value>"
    );
    assert_eq!(
        render("{{.Empty.X}} {{.State.Health.Status}}", &d),
        "<no value> <no value>"
    );
}

#[test]
fn parse_errors_name_the_position() {
    let cases = [
        (
            "{{.ID",
            "template: line 1, column 1: unclosed action: add the closing }}",
        ),
        (
            "ok\n  {{if .A}}x",
            "template: line 2, column 3: unclosed {{if}}: add {{end}}",
        ),
        (
            "{{end}}",
            "template: line 1, column 1: unexpected {{end}}: nothing to close",
        ),
        (
            "{{.A | }}",
            "template: line 1, column 1: missing value for command",
        ),
        (
            "{{\"abc}}",
            "template: line 1, column 3: unterminated quoted string: add the closing \"",
        ),
        (
            "{{(len .A}}",
            "template: line 1, column 3: unclosed left paren: add )",
        ),
        (
            "{{.A)}}",
            "template: line 1, column 5: unexpected ) in action",
        ),
        (
            "{{}}",
            "template: line 1, column 1: missing value for command: empty {{ }}",
        ),
        (
            "{{define \"x\"}}{{end}}",
            "template: line 1, column 1: {{define}} is not supported",
        ),
        (
            "{{.A # b}}",
            "template: line 1, column 6: unexpected '#' in action",
        ),
        (
            "{{1x}}",
            "template: line 1, column 3: bad number syntax: \"1x\"",
        ),
    ];
    for (src, want) in cases {
        match Template::parse(src) {
            Ok(_) => panic!("{src:?} parsed"),
            Err(e) => assert_eq!(e.to_string(), want, "{src:?}"),
        }
    }
}

#[test]
fn unknown_function_is_named() {
    match Template::parse("{{.Names | shout}}") {
        Ok(_) => panic!("parsed"),
        Err(e) => {
            let s = e.to_string();
            assert!(s.starts_with("template: line 1, column 12: function \"shout\" not defined (available: and, eq,"), "{s}");
            assert!(s.contains("upper"), "{s}");
        }
    }
}

#[test]
fn column_counts_characters() {
    assert_eq!(line_col("ééé{{", 6), (1, 4));
    assert_eq!(line_col("a\nbc", 3), (2, 2));
}

#[test]
fn arbitrary_input_never_panics() {
    let pieces = [
        "{{",
        "}}",
        "{{-",
        " -}}",
        ".",
        ".A",
        ".A.B",
        "$",
        "$x",
        ":=",
        "=",
        ",",
        "(",
        ")",
        "|",
        "\"",
        "`",
        "\\",
        "\\t",
        "\\n",
        "if",
        "else",
        "end",
        "range",
        "with",
        "len",
        "index",
        "printf",
        "\"%-5d%q\"",
        "0x",
        "-",
        "1e",
        "é",
        " ",
        "/*",
        "*/",
        "table ",
        "\n",
        "\t",
        "'",
    ];
    let data = json!({"A": {"B": [1, "x", null]}, "L": [], "m": {"k": 1.5}});
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut count_ok = 0;
    for _ in 0..5000 {
        let mut src = String::new();
        for _ in 0..(seed % 12) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            src.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        if let Ok(t) = Template::parse(&src) {
            if render_list(&t, std::slice::from_ref(&data), &no_headers).is_ok() {
                count_ok += 1;
            }
        }
    }
    // Some of the random templates are valid and render (plain text at least).
    assert!(count_ok > 100, "only {count_ok} rendered");
}
