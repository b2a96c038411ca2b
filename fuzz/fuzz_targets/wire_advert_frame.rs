//! Any byte string as an Ethernet frame: the advert parser must return a verdict, never panic,
//! and whatever it accepts must survive a policy check.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|frame: &[u8]| {
    let _ = vrrp_userspace::wire::parse_advert_frame(frame);
});
