//! CPU time from the kernel's per-process and per-thread accounting (Linux; zero elsewhere).

use std::time::Duration;

/// CPU time (user + system) used so far by this process's threads whose name starts with
/// `prefix`, from `/proc/self/task/*/stat`.
pub fn threads(prefix: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let mut total = Duration::ZERO;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if name(&stat).is_some_and(|n| n.starts_with(prefix)) {
            total += used(&stat);
        }
    }
    total
}

/// CPU time used so far by the process `pid` (all its threads), from `/proc/PID/stat`.
pub fn process(pid: u32) -> Duration {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| used(&stat))
        .unwrap_or_default()
}

/// CPU time used so far by this process's finished and waited-for children.
pub fn children() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// CPU microseconds per request.
pub fn per_request(cpu: Duration, requests: f64) -> f64 {
    cpu.as_secs_f64() * 1e6 / requests.max(1.0)
}

/// The name in a `stat` line, `pid (comm) state ...` (the name may hold spaces and parentheses).
fn name(stat: &str) -> Option<&str> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    stat.get(open + 1..close)
}

/// utime + stime of a `stat` line.
fn used(stat: &str) -> Duration {
    let Some(close) = stat.rfind(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = u32::try_from(field(11) + field(12)).unwrap_or(u32::MAX);
    Duration::from_secs(1) / ticks_per_second() * ticks
}

fn ticks_per_second() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u32::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}
