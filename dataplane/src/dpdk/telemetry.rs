//! DPDK telemetry commands: our own commands next to DPDK's (`/ethdev/stats`, ...) on the
//! process's telemetry socket, for `dpdk-telemetry.py`.
//!
//! A command's handler returns a [`Value`]; the trampoline DPDK calls (on its telemetry
//! thread, never a worker) turns it into `rte_tel_data`. DPDK's limits shape [`Value`]: a
//! reply is a dictionary or a list, containers nest one level, a list may hold lists but not
//! dictionaries, dictionary keys may only hold letters, digits, `_` and `/` (other characters
//! become `_`; keep real ids in string values), and a dictionary holds 256 entries.

#![allow(unsafe_code)]
// DPDK's C API and the mbuf layout: every unsafe block here carries its SAFETY line.

use crate::dpdk::eal::DpdkError;
use dpdk_sys as sys;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::Mutex;

/// A telemetry reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An unsigned number.
    U64(u64),
    /// A signed number (DPDK keeps 32 bits).
    Int(i64),
    /// Text.
    Str(String),
    /// Named values, in order.
    Dict(Vec<(String, Value)>),
    /// Values, in order.
    List(Vec<Value>),
}

type Handler = Box<dyn Fn(&str) -> Value + Send + Sync>;

/// Registered commands: DPDK's callback has no user pointer, so the trampoline finds the
/// handler by command name.
static HANDLERS: Mutex<Vec<(String, Handler)>> = Mutex::new(Vec::new());

/// Registers `cmd` (e.g. `/traffic_mirror/stats`) with `help`; `handler` gets the parameters
/// (the text after the comma, or "").
pub fn register(cmd: &str, help: &str, handler: impl Fn(&str) -> Value + Send + Sync + 'static) -> Result<(), DpdkError> {
    let c_cmd = CString::new(cmd).expect("command without NUL");
    let c_help = CString::new(help).expect("help without NUL");
    HANDLERS.lock().unwrap_or_else(|e| e.into_inner()).push((cmd.to_owned(), Box::new(handler)));
    // SAFETY: DPDK copies the command and help strings; the trampoline has the required type.
    let rc = unsafe { sys::rte_telemetry_register_cmd(c_cmd.as_ptr(), Some(trampoline), c_help.as_ptr()) };
    if rc != 0 {
        return Err(DpdkError::new(format!("rte_telemetry_register_cmd({cmd})"), rc));
    }
    Ok(())
}

/// What DPDK calls for our commands.
///
/// # Safety
/// DPDK calls it with NUL-terminated strings (or null for no parameters) and a valid, empty
/// reply `d`.
unsafe extern "C" fn trampoline(cmd: *const c_char, params: *const c_char, d: *mut sys::rte_tel_data) -> c_int {
    let text = |p: *const c_char| {
        if p.is_null() {
            return String::new();
        }
        // SAFETY: DPDK passes NUL-terminated strings (or null for no parameters).
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    };
    let (cmd, params) = (text(cmd), text(params));
    let value = {
        let handlers = HANDLERS.lock().unwrap_or_else(|e| e.into_inner());
        match handlers.iter().find(|(c, _)| *c == cmd) {
            Some((_, h)) => h(&params),
            None => return -libc::EINVAL,
        }
    };
    // SAFETY: `d` is the reply DPDK handed us, empty.
    unsafe { fill(d, &value) }
}

/// Keeps letters, digits, `_` and `/`; anything else becomes `_`.
fn key(name: &str) -> CString {
    let clean: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '/' { c } else { '_' }).collect();
    CString::new(clean).expect("no NUL after sanitising")
}

fn text(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("no NUL")
}

/// Writes `v` into `d` as a top-level reply, containers one level deep.
///
/// # Safety
/// `d` is a valid, empty `rte_tel_data`.
unsafe fn fill(d: *mut sys::rte_tel_data, v: &Value) -> c_int {
    // SAFETY (whole function): every pointer passed to DPDK is `d` or a container DPDK just
    // allocated; DPDK copies the strings; containers are handed over (keep = 0) and freed by
    // DPDK with the reply.
    unsafe {
        match v {
            Value::Dict(entries) => {
                sys::rte_tel_data_start_dict(d);
                for (k, v) in entries {
                    let k = key(k);
                    match v {
                        Value::U64(n) => {
                            sys::rte_tel_data_add_dict_u64(d, k.as_ptr(), *n);
                        }
                        Value::Int(n) => {
                            sys::rte_tel_data_add_dict_int(d, k.as_ptr(), *n as i32);
                        }
                        Value::Str(s) => {
                            sys::rte_tel_data_add_dict_string(d, k.as_ptr(), text(s).as_ptr());
                        }
                        inner => {
                            let c = sys::rte_tel_data_alloc();
                            if c.is_null() {
                                return -libc::ENOMEM;
                            }
                            fill_flat(c, inner);
                            sys::rte_tel_data_add_dict_container(d, k.as_ptr(), c, 0);
                        }
                    }
                }
            }
            Value::List(items) if items.iter().all(|i| matches!(i, Value::List(_))) => {
                sys::rte_tel_data_start_array(d, sys::RTE_TEL_CONTAINER);
                for i in items {
                    let c = sys::rte_tel_data_alloc();
                    if c.is_null() {
                        return -libc::ENOMEM;
                    }
                    fill_flat(c, i);
                    sys::rte_tel_data_add_array_container(d, c, 0);
                }
            }
            other => fill_flat(d, other),
        }
    }
    0
}

/// Writes a container's content: scalars only (DPDK nests one level).
///
/// # Safety
/// `d` is a valid, empty `rte_tel_data`.
unsafe fn fill_flat(d: *mut sys::rte_tel_data, v: &Value) {
    // SAFETY (whole function): as in `fill`.
    unsafe {
        match v {
            Value::Dict(entries) => {
                sys::rte_tel_data_start_dict(d);
                for (k, v) in entries {
                    let k = key(k);
                    match v {
                        Value::U64(n) => sys::rte_tel_data_add_dict_u64(d, k.as_ptr(), *n),
                        Value::Int(n) => sys::rte_tel_data_add_dict_int(d, k.as_ptr(), *n as i32),
                        Value::Str(s) => sys::rte_tel_data_add_dict_string(d, k.as_ptr(), text(s).as_ptr()),
                        _ => 0,
                    };
                }
            }
            Value::List(items) => {
                let strings = items.iter().any(|i| matches!(i, Value::Str(_)));
                sys::rte_tel_data_start_array(d, if strings { sys::RTE_TEL_STRING_VAL } else { sys::RTE_TEL_U64_VAL });
                for i in items {
                    match i {
                        Value::U64(n) => sys::rte_tel_data_add_array_u64(d, *n),
                        Value::Int(n) => sys::rte_tel_data_add_array_u64(d, *n as u64),
                        Value::Str(s) => sys::rte_tel_data_add_array_string(d, text(s).as_ptr()),
                        _ => 0,
                    };
                }
            }
            Value::U64(n) => {
                sys::rte_tel_data_string(d, text(&n.to_string()).as_ptr());
            }
            Value::Int(n) => {
                sys::rte_tel_data_string(d, text(&n.to_string()).as_ptr());
            }
            Value::Str(s) => {
                sys::rte_tel_data_string(d, text(s).as_ptr());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_only_what_dpdk_accepts() {
        assert_eq!(key("tms-1.ingress").to_str().unwrap(), "tms_1_ingress");
        assert_eq!(key("port/host_0").to_str().unwrap(), "port/host_0");
    }
}
