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

/// The product carries only the product: the object `vrrpd` embeds holds its two programs and
/// its maps, nothing of the benchmarks (their empty baseline, flood generator and floors are
/// the other object, embedded only with the `lab` feature).
#[test]
fn the_production_object_holds_only_the_production_programs_and_maps() {
    use vrrp_userspace::dataplane::{
        BENCH_OBJECT, EGRESS_PROGRAM_NAME, FLOOR_PROGRAM_NAMES, NOOP_PROGRAM_NAME,
    };
    let obj = Object::parse(BPF_OBJECT).expect("the embedded object parses as BPF ELF");
    let mut programs: Vec<&str> = obj.programs.keys().map(String::as_str).collect();
    programs.sort_unstable();
    assert_eq!(programs, [PROGRAM_NAME, EGRESS_PROGRAM_NAME]);
    let mut maps: Vec<&str> = obj
        .maps
        .keys()
        .map(String::as_str)
        .filter(|m| !m.starts_with('.'))
        .collect();
    maps.sort_unstable();
    let mut expected = map_names::ALL.to_vec();
    expected.sort_unstable();
    assert_eq!(maps, expected);

    let bench = Object::parse(BENCH_OBJECT).expect("the benchmarks' object parses");
    let mut programs: Vec<&str> = bench.programs.keys().map(String::as_str).collect();
    programs.sort_unstable();
    let mut expected: Vec<&str> = FLOOR_PROGRAM_NAMES.to_vec();
    expected.extend([NOOP_PROGRAM_NAME, "vrrp_tx"]);
    expected.sort_unstable();
    assert_eq!(programs, expected);
    assert!(bench.maps.contains_key(map_names::TX_FRAME));
}

/// The object has no CO-RE relocations, so vrrpd loads it without the kernel's BTF
/// (`dataplane::needs_kernel_btf`): parsing /sys/kernel/btf/vmlinux at every interface opened
/// left some 2.4 MiB of the heap resident until the next trim, and an 8 MiB buffer for a
/// moment (the chaos run's "RSS flat"). A relocation added to `vrrp-ebpf` fails this test; the
/// daemon then loads the kernel's BTF again, at that cost.
#[test]
fn the_object_needs_no_kernel_btf() {
    let obj = Object::parse(BPF_OBJECT).expect("the embedded object parses as BPF ELF");
    assert!(
        obj.btf_ext.is_some(),
        "the object carries no .BTF.ext (func and line info), so this test says nothing"
    );
    assert!(
        !obj.has_btf_relocations(),
        "the BPF object has CO-RE relocations: vrrpd now parses the kernel's BTF at every \
         interface opened"
    );
    assert!(!vrrp_userspace::dataplane::needs_kernel_btf());
}
