//! vrrpd: the daemon and its command line.
fn main() {
    println!(
        "{} bytes of BPF",
        vrrp_userspace::dataplane::BPF_OBJECT.len()
    );
}
