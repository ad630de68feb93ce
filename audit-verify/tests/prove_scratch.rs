use audit_verify::guard::{Environment, StateGuard};
#[test]
fn scratch() {
    let mut g = StateGuard::new(Environment::Host).unwrap();
    for line in std::fs::read_to_string("/tmp/avx/rules").unwrap().lines() {
        let args: Vec<&str> = line.split_whitespace().collect();
        g.run_auditctl(&args).unwrap();
    }
    let size = std::fs::metadata("/var/log/audit/audit.log").unwrap().len();
    let out = std::process::Command::new("/tmp/avx/exp").output().unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let log = std::fs::read("/var/log/audit/audit.log").unwrap();
    println!("{}", String::from_utf8_lossy(&log[size as usize..]));
}
