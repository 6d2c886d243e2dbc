//! Generates bindings to the system DPDK at build time and compiles the inline-function shim.
//!
//! bindgen and cc get exactly the flags `pkg-config --cflags libdpdk` prints (notably
//! `-include rte_config.h -march=corei7`): DPDK's struct layouts depend on them.

use std::env;
use std::path::PathBuf;

fn main() {
    let dpdk = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .unwrap_or_else(|e| {
            panic!(
                "DPDK 22.11 not found with pkg-config ({e}).\n\
                 Install it with scripts/setup.sh (apt-get install libdpdk-dev pkg-config)."
            )
        });

    // pkg-config's cflags beyond include paths (-include rte_config.h, -march=...).
    let cflags: Vec<String> = pkg_config::get_variable("libdpdk", "cflags")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_else(|| {
            let out = std::process::Command::new("pkg-config")
                .args(["--cflags", "libdpdk"])
                .output()
                .expect("run pkg-config --cflags libdpdk");
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        });

    let mut build = cc::Build::new();
    build.file("src/shim.c").opt_level(3).warnings(true);
    for flag in &cflags {
        build.flag(flag);
    }
    build.compile("dpdk_shim");

    let bindings = bindgen::Builder::default()
        .header("src/shim.h")
        .clang_args(&cflags)
        .clang_args(dpdk.include_paths.iter().map(|p| format!("-I{}", p.display())))
        // Only what the dataplane uses; all of rte_.* drags in rte_flow's packed+aligned
        // protocol headers, which Rust cannot represent.
        .allowlist_function("shim_.*")
        .allowlist_function("rte_eal_.*")
        .allowlist_function("rte_eth_(dev|stats|xstats|macaddr|rx_queue|tx_queue|promiscuous|link|find_next).*")
        .allowlist_function("rte_pktmbuf_(pool_create|free_bulk|copy|clone|dump)")
        .allowlist_function("rte_mempool_(avail_count|in_use_count|free|lookup)")
        .allowlist_function("rte_(dev_probe|dev_remove|strerror|socket_id|lcore_count|thread_register|thread_unregister|get_tsc_hz|exit)")
        // The packet-capture server dpdk-pdump (a secondary process) talks to.
        .allowlist_function("rte_pdump_(init|uninit)")
        .allowlist_function("rte_tel_.*")
        .allowlist_function("rte_telemetry_.*")
        .allowlist_type("rte_mbuf")
        .allowlist_type("rte_eth_(conf|dev_info|stats|rxconf|txconf|link|xstat.*)")
        .allowlist_type("rte_ether_addr")
        .allowlist_var("RTE_(ETH|MBUF|PKTMBUF|MAX|ETHER)_.*")
        .allowlist_var("RTE_TEL_.*")
        .allowlist_var("RTE_ETHDEV_QUEUE_STAT_CNTRS")
        .derive_default(true)
        .derive_debug(false)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen over DPDK headers");

    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings.write_to_file(&out).expect("write bindings");
    println!("cargo:rerun-if-changed=src/shim.h");
    println!("cargo:rerun-if-changed=src/shim.c");
}
