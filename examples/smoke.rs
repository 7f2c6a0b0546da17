fn main() {
    let t = exectrace::Tracer::new(&exectrace::TracerOpts::default()).unwrap_or_else(|e| { eprintln!("{e}"); std::process::exit(1) });
    std::process::Command::new("/bin/echo").args(["smoke-marker", "", "a b"]).output().unwrap();
    for _ in 0..200 {
        match t.read_timeout(std::time::Duration::from_secs(2)).unwrap() {
            Some(ev) if ev.argv.iter().any(|a| a == "smoke-marker") => { println!("{ev:#?}\n{:?}", t.stats()); return; }
            Some(_) => {}
            None => { println!("timeout"); return; }
        }
    }
}
