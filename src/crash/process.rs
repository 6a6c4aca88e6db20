//! The processes of one server, found through `/proc`. PostgreSQL makes every postmaster child its own
//! session leader (`setsid()` in `InitPostmasterChild`), so signalling the postmaster's process group does
//! not reach the checkpointer or the backends: a crash must find and kill them one by one.

use std::time::{Duration, Instant};

/// Live processes of the server whose postmaster is `postmaster`: the postmaster itself (while it lives)
/// and its children.
pub fn server_processes(postmaster: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            stat_of(pid).is_some_and(|(state, ppid)| {
                state != 'Z' && state != 'X' && (pid == postmaster || ppid == postmaster)
            })
        })
        .collect()
}

/// Kills a whole server at one instant, as a power failure would: stops the postmaster (so it starts no new
/// child), SIGKILLs every child, then the postmaster, and waits up to `patience` until none is left. Returns
/// the processes still alive after that (normally none).
pub fn kill_server(postmaster: u32, patience: Duration) -> Vec<u32> {
    signal(postmaster, libc::SIGSTOP);
    for pid in server_processes(postmaster) {
        if pid != postmaster {
            signal(pid, libc::SIGKILL);
        }
    }
    signal(postmaster, libc::SIGKILL);
    wait_gone(postmaster, patience)
}

/// Waits until no process of the server is left (children of a killed postmaster are re-parented, so they
/// are remembered first); returns those still alive after `patience`.
pub fn wait_gone(postmaster: u32, patience: Duration) -> Vec<u32> {
    let known = server_processes(postmaster);
    let deadline = Instant::now() + patience;
    loop {
        let alive: Vec<u32> = known
            .iter()
            .copied()
            .filter(|&p| stat_of(p).is_some_and(|(state, _)| state != 'Z' && state != 'X'))
            .collect();
        if alive.is_empty() || Instant::now() > deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// The state letter and parent pid of `pid`, from `/proc/<pid>/stat`.
fn stat_of(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_kills_a_process_tree() {
        let mut parent = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let pid = parent.id();
        let deadline = Instant::now() + Duration::from_secs(5);
        while server_processes(pid).len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(server_processes(pid).len(), 3, "sh and two sleeps");
        let children: Vec<u32> = server_processes(pid)
            .into_iter()
            .filter(|&p| p != pid)
            .collect();
        assert!(kill_server(pid, Duration::from_secs(5)).is_empty());
        parent.wait().unwrap();
        for c in children {
            assert!(!matches!(stat_of(c), Some((s, _)) if s != 'Z' && s != 'X'));
        }
    }
}
