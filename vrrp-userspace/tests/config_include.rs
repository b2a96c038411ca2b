//! `include` with globs and `{a,b}` brace expansion, relative to the including file, spliced in
//! at line level (so it also works inside a block).

use std::path::Path;

use vrrp_userspace::config;

const MAIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/configs/include/main.conf"
);

#[test]
fn globs_braces_and_relative_paths() {
    let l = config::load(Path::new(MAIN)).unwrap_or_else(|e| panic!("{e}"));
    let c = &l.config;
    assert_eq!(c.global.router_id.as_deref(), Some("inc01"));

    // scripts/{chk_nginx,chk_missing}.conf: the existing alternative is read.
    let s = c
        .script("chk_nginx")
        .expect("script from the brace include");
    assert_eq!(s.command, "/usr/bin/pgrep nginx");
    assert!(
        s.source.file.ends_with("include/scripts/chk_nginx.conf"),
        "{}",
        s.source.file
    );
    assert_eq!(s.source.line, 1);

    // conf.d/*.conf in name order; README.txt is not matched.
    let names: Vec<_> = c.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["VI_1", "VI_2"]);
    let vi1 = c.instance("VI_1").unwrap();
    assert!(vi1.source.file.ends_with("conf.d/10-vi1.conf"));
    assert_eq!(vi1.source.line, 1);
    assert_eq!(vi1.track_scripts[0].script, "chk_nginx");

    // An include inside a block, relative to the included file (conf.d/../vips/vi2.list).
    let vi2 = c.instance("VI_2").unwrap();
    assert_eq!(vi2.vips.len(), 2);
    assert_eq!(vi2.vips[0].prefix_len, 24);
    assert_eq!(vi2.vips[0].label.as_deref(), Some("eth0:vi2"));
    assert_eq!(vi2.vips[1].address.to_string(), "192.0.2.21");

    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn diagnostics_in_included_files_name_that_file() {
    let dir = std::env::temp_dir().join(format!("vrrpd-include-{}", std::process::id()));
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(
        dir.join("top.conf"),
        "! top\ninclude sub/*.conf\ninclude nothing-here-*.conf\n",
    )
    .unwrap();
    std::fs::write(
        sub.join("bad.conf"),
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 300\n}\n",
    )
    .unwrap();
    std::fs::write(sub.join("loop.conf"), "include ../top.conf\n").unwrap();
    let err = config::load(&dir.join("top.conf")).unwrap_err();
    let text = err.to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        text.contains(
            "sub/bad.conf:3:23: expected a number 1..255 after 'virtual_router_id', found '300'"
        ),
        "{text}"
    );
    assert!(text.contains("includes itself"), "{text}");
    let w = err
        .warnings()
        .iter()
        .find(|w| w.message.contains("matched no file"))
        .expect("unmatched include warned");
    assert_eq!(w.line(), Some(3));
}
