//! Tier 2: the embedded BPF object itself, inspected without loading it.
use aya_obj::Object;
use vrrp_userspace::dataplane::{BPF_OBJECT, CLASSES_MAP, PROGRAM_NAME};

#[test]
fn embedded_object_has_the_xdp_program_and_named_maps_with_btf() {
    let obj = Object::parse(BPF_OBJECT).expect("the embedded object parses as BPF ELF");
    assert!(
        obj.programs.contains_key(PROGRAM_NAME),
        "no program {PROGRAM_NAME}: {:?}",
        obj.programs.keys().collect::<Vec<_>>()
    );
    assert!(
        obj.maps.contains_key(CLASSES_MAP),
        "no map {CLASSES_MAP}: {:?}",
        obj.maps.keys().collect::<Vec<_>>()
    );
    assert!(obj.btf.is_some(), "the object carries no BTF");
    assert_eq!(&BPF_OBJECT[..4], b"\x7fELF");
}
