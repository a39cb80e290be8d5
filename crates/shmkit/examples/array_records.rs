//! Reads and writes an array of `#[repr(C)]` records that Python sees as a NumPy structured
//! array: `np.dtype([("x", "<f8"), ("y", "<f8"), ("id", "<u4"), ("flag", "u1")], align=True)`.
//!
//! ```text
//! array_records write STORE NAME N   # creates NAME with N records: record i = (1.5 i, -i, i, i % 2)
//! array_records read STORE NAME      # prints "i x y id flag" per record
//! ```

use shmkit::{Element, Store};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

#[repr(C)]
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
struct Record {
    x: f64,
    y: f64,
    id: u32,
    flag: u8,
    _pad: [u8; 3],
}

impl Element for Record {
    const FORMAT: &'static str = "T{d:x:d:y:I:id:B:flag:3x}";
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, store, name, n] if cmd == "write" => {
            let n: u64 = n.parse()?;
            let store = Store::open(store)?;
            let records = store.typed_array::<Record>(name, &[n])?;
            for i in 0..n {
                let record = Record {
                    x: 1.5 * i as f64,
                    y: -(i as f64),
                    id: i as u32,
                    flag: (i % 2) as u8,
                    _pad: [0; 3],
                };
                records.set(i, record)?;
            }
        }
        [cmd, store, name] if cmd == "read" => {
            let store = Store::open(store)?;
            let records = store.open_array(name)?.typed::<Record>()?;
            for (i, r) in records.to_vec()?.iter().enumerate() {
                println!("{i} {} {} {} {}", r.x, r.y, r.id, r.flag);
            }
        }
        _ => return Err("usage: array_records write STORE NAME N | read STORE NAME".into()),
    }
    Ok(())
}
