//! Prints the diagnostics of each document given on the command line.
fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("readable file");
        match bizgraph_metadata::parse(&bytes) {
            Ok(parsed) => {
                println!("{path}: {} diagnostics", parsed.diagnostics.len());
                for d in &parsed.diagnostics {
                    println!("  {d}");
                }
            }
            Err(e) => println!("{path}: {e}"),
        }
    }
}
