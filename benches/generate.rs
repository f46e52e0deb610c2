//! The batch generator for benchmarks and large tests: deterministic from a seed, realistic
//! values for every column and every ID system muster knows, and a known mix of defects.
//!
//!     cargo run --release --example generate -- --rows 1000000 --error-rate 0.01 -o 1m.csv
//!     cargo run --release --example generate -- --rows 100000 -o 100k.xlsx
//!
//! A `.csv` output is the flat layout (inline ID columns); a `.xlsx` output is the workbook
//! layout (Users, ITSM IDs, Channel IDs, IDM IDs, Bot Account). The defects injected are counted
//! on stderr, so a run can be checked against what muster reports.

use clap::Parser;
use muster::template::example_ids;
use rust_xlsxwriter::Workbook;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

#[derive(Parser)]
struct Args {
    /// Users to write.
    #[arg(long, default_value_t = 1000)]
    rows: u32,
    /// The share of rows given one defect (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// `.csv` (flat layout) or `.xlsx` (workbook layout).
    #[arg(short, long)]
    output: PathBuf,
}

/// splitmix64: small, fast and deterministic; quality is not the point here.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

const FIRST: &[&str] = &[
    "Jane", "Omar", "Li", "Priya", "Lukas", "Sofia", "Mateo", "Aiko", "Chen", "Fatima", "Noah",
    "Emma", "Kwame", "Ines", "Marie", "Anne", "José", "Bjorn", "Zoe", "Ravi",
];
const LAST: &[&str] = &[
    "Doe",
    "Tanaka",
    "Haddad",
    "Zhang",
    "Vanderberg",
    "Wei",
    "Khan",
    "Muller",
    "Sharma",
    "Smith",
    "Larsen",
    "Becker",
    "Martin",
    "Dubois",
    "Rossi",
    "Mensah",
    "Iyer",
    "Garcia",
    "Silva",
    "Okafor",
];
/// (country, timezone, region, city, state)
const PLACES: &[(&str, &str, &str, &str, &str)] = &[
    ("DE", "Europe/Berlin", "EMEA", "Berlin", "BE"),
    ("GB", "Europe/London", "EMEA", "London", "ENG"),
    ("US", "America/New_York", "AMER", "New York", "NY"),
    ("US", "America/Los_Angeles", "AMER", "San Francisco", "CA"),
    ("IN", "Asia/Kolkata", "APAC", "Bengaluru", "KA"),
    ("JP", "Asia/Tokyo", "APAC", "Tokyo", "13"),
    ("BR", "America/Sao_Paulo", "AMER", "São Paulo", "SP"),
    ("FR", "Europe/Paris", "EMEA", "Paris", "IDF"),
];
const ROLES: &[&str] = &[
    "Contract Engineer",
    "Service Desk Analyst",
    "Data Analyst",
    "Project Manager",
    "Designer",
];
const DEPARTMENTS: &[&str] = &["Engineering", "IT", "Finance", "Marketing", "Operations"];
const VENDORS: &[&str] = &[
    "Northwind Staffing",
    "Contoso Partners",
    "Fabrikam Services",
];
/// (integration, system, list) for every built-in connector.
const CONNECTORS: &[(&str, &str, &str)] = &[
    ("freshservice", "freshservice", "itsm"),
    ("jira_service_desk", "jira", "itsm"),
    ("manageengine", "manageengine", "itsm"),
    ("salesforce", "salesforce", "itsm"),
    ("servicenow", "servicenow", "itsm"),
    ("msteams", "msteams", "channel"),
    ("slack", "slack", "channel"),
    ("azure_ad", "azure_ad", "idm"),
    ("okta", "okta", "idm"),
];
const USER_COLUMNS: &[&str] = &[
    "email_addr",
    "record_id",
    "full_name",
    "first_name",
    "last_name",
    "role",
    "department",
    "manager_email",
    "employee_id",
    "cost_center_id",
    "cost_center_name",
    "work_status",
    "country_code",
    "timezone",
    "region",
    "city",
    "state",
    "user_tags",
    "email_aliases",
    "custom.vendor",
];
const DEFECTS: &[&str] = &[
    "V002 invalid email",
    "V003 work status",
    "V004 user tag",
    "V005 timezone",
    "V006 country",
    "D001 duplicate record id",
    "I002 servicenow id",
    "R001 unknown manager",
];

struct User {
    cells: Vec<String>,
    /// (integration, list, user_id, external_id)
    ids: Vec<(&'static str, &'static str, String, String)>,
}

fn email(i: u32) -> String {
    let (f, l) = names(i);
    format!(
        "{}.{}.{i}@partners.acme.com",
        ascii(f).to_lowercase(),
        l.to_lowercase()
    )
}

fn names(i: u32) -> (&'static str, &'static str) {
    (
        FIRST[i as usize % FIRST.len()],
        LAST[(i as usize / FIRST.len()) % LAST.len()],
    )
}

fn ascii(s: &str) -> String {
    s.replace('é', "e")
}

fn user(i: u32, rng: &mut Rng, defect: Option<usize>, counts: &mut BTreeMap<&str, u32>) -> User {
    let (first, last) = names(i);
    let (country, tz, region, city, state) = PLACES[i as usize % PLACES.len()];
    let manager = if i.is_multiple_of(50) {
        String::new()
    } else {
        email(i / 50 * 50)
    };
    let work_status = match rng.next() % 10 {
        0 => "FULL_TIME",
        1 => "Contractor", // an alias: N004, info
        _ => "CONTINGENT",
    };
    let mut cells: Vec<String> = vec![
        email(i),
        format!("CTR-{:07}", i + 1),
        format!("{first} {last}"),
        first.to_string(),
        last.to_string(),
        rng.pick(ROLES).to_string(),
        rng.pick(DEPARTMENTS).to_string(),
        manager,
        format!("E{:07}", i + 1),
        format!("CC-{}", 100 + i % 40),
        rng.pick(DEPARTMENTS).to_string(),
        work_status.to_string(),
        country.to_string(),
        tz.to_string(),
        region.to_string(),
        city.to_string(),
        state.to_string(),
        if i.is_multiple_of(7) {
            "HAS_ACCESS_TO_BOT;IT_AGENT".to_string()
        } else {
            "HAS_ACCESS_TO_BOT".to_string()
        },
        format!(
            "{}.{}.{i}@vendor.example.com",
            ascii(first).to_lowercase(),
            last.to_lowercase()
        ),
        rng.pick(VENDORS).to_string(),
    ];
    let address = cells[0].clone();
    let mut ids: Vec<(&'static str, &'static str, String, String)> = CONNECTORS
        .iter()
        .map(|&(integration, system, list)| {
            let (uid, ext) = example_ids(system, i + 1, &address);
            (integration, list, uid, ext)
        })
        .collect();
    if let Some(d) = defect {
        *counts.entry(DEFECTS[d]).or_default() += 1;
        match d {
            0 => cells[0] = cells[0].replacen('@', "@@", 1),
            1 => cells[11] = "PART_TIME".to_string(),
            2 => cells[17] = "HAS_ACESS_TO_BOT".to_string(),
            3 => cells[13] = "America/New York".to_string(),
            4 => cells[12] = "UK".to_string(),
            5 => cells[1] = format!("CTR-{:07}", i.max(1)),
            6 => {
                let sn = ids
                    .iter_mut()
                    .find(|e| e.0 == "servicenow")
                    .expect("servicenow");
                sn.2.pop();
            }
            _ => cells[7] = format!("nobody.{i}@partners.acme.com"),
        }
    }
    User { cells, ids }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rng = Rng(args.seed);
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    let mut users = (0..args.rows).map(move |i| {
        let defect = rng
            .chance(args.error_rate)
            .then(|| (rng.next() % DEFECTS.len() as u64) as usize);
        (i, defect)
    });
    let xlsx = args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let mut rng = Rng(args.seed ^ 0x5eed);
    if xlsx {
        let mut wb = Workbook::new();
        let all: Vec<User> = users
            .by_ref()
            .map(|(i, d)| user(i, &mut rng, d, &mut counts))
            .collect();
        let ws = wb.add_worksheet_with_constant_memory()?;
        ws.set_name("Users")?;
        for (c, h) in USER_COLUMNS.iter().enumerate() {
            ws.write_string(0, c as u16, *h)?;
        }
        for (r, u) in all.iter().enumerate() {
            for (c, v) in u.cells.iter().enumerate() {
                if !v.is_empty() {
                    ws.write_string(r as u32 + 1, c as u16, v)?;
                }
            }
        }
        for (list, sheet) in [
            ("itsm", "ITSM IDs"),
            ("channel", "Channel IDs"),
            ("idm", "IDM IDs"),
        ] {
            let ws = wb.add_worksheet_with_constant_memory()?;
            ws.set_name(sheet)?;
            let headers: &[&str] = if list == "channel" {
                &["record_id", "integration", "user_id"]
            } else {
                &["record_id", "integration", "user_id", "external_id"]
            };
            for (c, h) in headers.iter().enumerate() {
                ws.write_string(0, c as u16, *h)?;
            }
            let mut r = 1;
            for u in &all {
                for (integration, _, uid, ext) in u.ids.iter().filter(|e| e.1 == list) {
                    ws.write_string(r, 0, &u.cells[1])?;
                    ws.write_string(r, 1, *integration)?;
                    ws.write_string(r, 2, uid)?;
                    if list != "channel" {
                        ws.write_string(r, 3, ext)?;
                    }
                    r += 1;
                }
            }
        }
        let ws = wb.add_worksheet();
        ws.set_name("Bot Account")?;
        for (c, (h, v)) in [
            ("email_addr", "moveworks.bot@acme.com"),
            ("record_id", "BOT-0001"),
            ("full_name", "Moveworks Bot"),
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(0, c as u16, *h)?;
            ws.write_string(1, c as u16, *v)?;
        }
        wb.save(&args.output)?;
    } else {
        let file = std::fs::File::create(&args.output)?;
        let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
        let mut header: Vec<String> = USER_COLUMNS.iter().map(|s| s.to_string()).collect();
        for (integration, _, list) in CONNECTORS {
            header.push(format!("{list}.{integration}.user_id"));
            if *list != "channel" {
                header.push(format!("{list}.{integration}.external_id"));
            }
        }
        out.write_record(&header)?;
        for (i, d) in users {
            let u = user(i, &mut rng, d, &mut counts);
            let mut row = u.cells;
            for (_, list, uid, ext) in u.ids {
                row.push(uid);
                if list != "channel" {
                    row.push(ext);
                }
            }
            out.write_record(&row)?;
        }
        out.flush()?;
    }
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "wrote {} users to {}",
        args.rows,
        args.output.display()
    )?;
    for (defect, n) in &counts {
        writeln!(err, "  {n:>8}  {defect}")?;
    }
    Ok(())
}
