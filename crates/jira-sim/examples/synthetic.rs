//! Builds a synthetic site and prints its shape and build time: `cargo run --release -p jira-sim --example
//! synthetic -- 1000000 42` (measure peak memory with `/usr/bin/time -v`).

use std::time::Instant;

use jira_sim::site::SiteFile;
use jira_sim::synthetic;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().as_deref().unwrap_or("1000000").parse()?;
    let seed: u64 = args.next().as_deref().unwrap_or("42").parse()?;
    let started = Instant::now();
    let mut site = synthetic::generate(n, seed);
    let generated = started.elapsed();
    SiteFile::default_site()?.apply(&mut site)?;
    let total = started.elapsed();
    let dev = site
        .person_by_name("dev")
        .ok_or("no dev in the default site")?;
    let filter = Instant::now();
    let visible = (0..u32::try_from(site.issues.len())?)
        .filter(|&i| site.can_browse(dev, i))
        .count();
    println!(
        "{{\"issues\":{},\"links\":{},\"projects\":{},\"people\":{},\"generate_s\":{:.3},\"with_site_s\":{:.3},\"dev_visible\":{visible},\"filter_ms\":{:.1}}}",
        site.issues.len(),
        site.links.iter().flatten().count(),
        site.projects.len(),
        site.people.len(),
        generated.as_secs_f64(),
        total.as_secs_f64(),
        filter.elapsed().as_secs_f64() * 1000.0,
    );
    Ok(())
}
