//! A throw-away PostgreSQL cluster for tests: Debian's server binaries, a temporary data
//! directory, a free port, password authentication (so a wrong password is refused as in
//! production). PostgreSQL refuses to run as root, so as root (CI) it runs as the
//! `postgres` user. Shared with the integration tests (`#[path]`).

#![allow(dead_code)] // each suite that includes this uses a part of it

use std::path::PathBuf;
use std::process::Command;

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The server's options, the same at every start.
    options: String,
    /// `postgres://kaden:PASSWORD@127.0.0.1:PORT/postgres`
    pub url: String,
    pub password: String,
}

impl PgCluster {
    pub fn start() -> PgCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries (apt-get install postgresql)")
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        let mut perms = std::fs::metadata(dir.path()).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
        std::fs::set_permissions(dir.path(), perms).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        let password = format!("pw-{:016x}", fastrand::u64(..));
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, &password).unwrap();
        let cluster = PgCluster {
            url: format!("postgres://kaden:{password}@127.0.0.1:{port}/postgres"),
            password,
            dir,
            bin,
            options,
        };
        let data = cluster.dir.path().join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "scram-sha-256",
                "--pwfile",
                pwfile.to_str().unwrap(),
                "-U",
                "kaden",
                "--no-sync",
            ],
        );
        cluster.pg_ctl("start");
        cluster
    }

    /// `pg_ctl restart -m fast`: every connection is cut, as in a server restart or a
    /// failover to a standby.
    pub fn restart(&self) {
        self.pg_ctl("restart");
    }

    fn pg_ctl(&self, action: &str) {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-w",
                "-m",
                "fast",
                "-l",
                log.to_str().unwrap(),
                "-o",
                &self.options,
                action,
            ],
        );
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut command = if unsafe { libc::geteuid() } == 0 {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = command.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = std::panic::catch_unwind(|| {
            self.run(
                "pg_ctl",
                &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
            )
        });
    }
}
