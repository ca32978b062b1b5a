//! The README promises: the status table matches the code, the exports are listed, and CI runs the
//! README's test command.

use cm_smartcard::Status;

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn c_name(status: Status) -> String {
    let debug = format!("{status:?}");
    let mut out = String::from("CM_STATUS_");
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[test]
fn readme_status_table_matches_the_enum() {
    let readme = read("README.md");
    let header = read("include/cm_smartcard.h");
    for s in Status::ALL {
        let name = c_name(*s);
        let row = format!("| {} | `{}` |", *s as i32, name);
        assert!(readme.contains(&row), "README lacks the row {row}");
        assert!(
            header.contains(&format!("{name} = {},", *s as i32)),
            "header lacks {name}"
        );
    }
}

#[test]
fn every_exported_function_is_in_the_readme() {
    let readme = read("README.md");
    let header = read("include/cm_smartcard.h");
    let mut missing = Vec::new();
    for line in header
        .lines()
        .filter(|l| l.ends_with(");") && l.contains(" cm_"))
    {
        let name = line
            .split('(')
            .next()
            .unwrap()
            .rsplit([' ', '*'])
            .next()
            .unwrap();
        // Accessor families are listed as `cm_smartcard_uuid / _atr / ...`: some prefix of the name on a line
        // that also lists the rest as `/ _rest`.
        let listed = readme.contains(name)
            || name.match_indices('_').any(|(i, _)| {
                let (prefix, rest) = name.split_at(i);
                readme
                    .lines()
                    .any(|l| l.contains(prefix) && l.contains(&format!("/ {rest}")))
            });
        if !listed {
            missing.push(name.to_string());
        }
    }
    assert!(missing.is_empty(), "README API table lacks: {missing:?}");
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    let command = "bash tests/run_all.sh";
    assert!(
        readme.contains(&format!("```sh\n{command}\n```")),
        "README names the test command"
    );
    assert!(
        ci.lines().any(|l| l.trim() == command),
        ".ci/run runs the README's test command"
    );
}
