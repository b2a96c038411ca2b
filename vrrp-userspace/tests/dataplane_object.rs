//! Tier 2: the embedded BPF object itself, inspected without loading it.
use aya_obj::Object;
use vrrp_userspace::dataplane::{BPF_OBJECT, PROGRAM_NAME, map_names};

#[test]
fn embedded_object_has_the_xdp_program_and_named_maps_with_btf() {
    let obj = Object::parse(BPF_OBJECT).expect("the embedded object parses as BPF ELF");
    assert!(
        obj.programs.contains_key(PROGRAM_NAME),
        "no program {PROGRAM_NAME}: {:?}",
        obj.programs.keys().collect::<Vec<_>>()
    );
    for name in map_names::ALL {
        assert!(
            obj.maps.contains_key(name),
            "no map {name}: {:?}",
            obj.maps.keys().collect::<Vec<_>>()
        );
        // The kernel keeps 15 characters of a map name; bpftool finds it by that.
        assert!(name.len() <= 15, "{name} is longer than the kernel keeps");
    }
    assert!(obj.btf.is_some(), "the object carries no BTF");
    assert_eq!(&BPF_OBJECT[..4], b"\x7fELF");
}
