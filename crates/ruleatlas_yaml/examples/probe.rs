fn main() {
    let mut ok = 0;
    let mut bad = 0;
    for arg in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&arg).unwrap_or_default();
        match ruleatlas_yaml::parse_multi(&text) {
            Ok(_) => ok += 1,
            Err(e) => {
                bad += 1;
                eprintln!("{arg}: {e}");
            }
        }
    }
    println!("ok {ok} bad {bad}");
}
