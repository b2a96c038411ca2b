//! The heap: bounded and given back to the kernel.

/// Gives the heap's free memory back to the kernel: glibc keeps freed memory mapped, and what
/// startup used (the BPF object parsed, the configuration read), or an interface opened again,
/// would stay resident. Called when the controller asks ([`crate::controller::Effect::TrimHeap`]: after startup and every [`crate::controller::MEMORY_TRIM`]) (a walk of glibc's
/// arenas, well under a millisecond at vrrpd's heap size).
#[cfg(target_env = "gnu")]
#[expect(
    unsafe_code,
    reason = "malloc_trim(3) takes and returns plain integers"
)]
pub(super) fn release_free_memory() {
    // SAFETY: malloc_trim only walks glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(target_env = "gnu"))]
pub(super) fn release_free_memory() {}

/// The heap threshold above which glibc serves an allocation by mmap (its initial default).
pub const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Fixes glibc's mmap threshold for the process, so that resident memory stays bounded by what
/// vrrpd uses. By default glibc raises the threshold to the size of the largest mmap'd block
/// freed so far (up to 32 MiB): opening an interface parses the kernel's BTF in blocks of
/// several MiB, so the second interface opened (an interface created again, a reload with a
/// new one) took them from the heap, where they stayed resident after being freed: 20 MiB
/// grew to 42 MiB at the second re-creation of eth0 and stayed there (the chaos run's "RSS
/// flat" violation). With the threshold fixed (setting it turns the adjustment off), large
/// blocks always go back to the kernel: about 12 MiB, flat across re-creations.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(
    unsafe_code,
    reason = "mallopt(3) takes two integers; called before the runtime starts its threads"
)]
pub fn bound_heap() {
    // SAFETY: no pointer is passed; glibc validates the parameter.
    if unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) } != 1 {
        log::debug!("mallopt(M_MMAP_THRESHOLD) refused; the heap keeps glibc's defaults");
    }
    // One arena for the process: by default each thread that allocates (the status thread,
    // the namespace thread, the runtime's) gets an arena of its own, each with its own free
    // pages resident; vrrpd's threads allocate little and seldom, so they contend for nothing.
    // SAFETY: as above.
    if unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) } != 1 {
        log::debug!("mallopt(M_ARENA_MAX) refused; each thread may keep an arena");
    }
}

/// Other C libraries: nothing to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn bound_heap() {}
