//! The lab network itself: hosts named `eth0` on one bridge reach each other.
use vrrp_userspace::lab::{self, Lab};

#[test]
fn lab_hosts_reach_each_other_through_the_switch() {
    if !lab::privileged("lab_hosts_reach_each_other_through_the_switch") {
        return;
    }
    let lab = Lab::new(&[("lb01", "192.0.2.4/24"), ("client", "192.0.2.10/24")]);
    lab.host("client")
        .exec(&["ping", "-c", "1", "-W", "2", "192.0.2.4"]);
    lab.link_down("lb01");
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.host("client").name))
        .args(["--", "ping", "-c", "1", "-W", "1", "192.0.2.4"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "lb01 answered with its link down");
    lab.link_up("lb01");
}
