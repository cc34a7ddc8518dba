//! An incremental reader of PostgreSQL's binary COPY stream (`COPY … TO STDOUT (FORMAT
//! binary)`), tuple by tuple, for the verification's PostgreSQL side.

use bytes::Buf;

/// An incremental reader of PostgreSQL's binary COPY stream.
#[derive(Default)]
pub(super) struct CopyParser {
    buf: Vec<u8>,
    header_done: bool,
    finished: bool,
}

impl CopyParser {
    /// Adds `chunk` and hands each complete tuple's fields to `row`.
    pub(super) fn feed(
        &mut self,
        chunk: &[u8],
        mut row: impl FnMut(&[Option<&[u8]>]),
    ) -> std::result::Result<(), String> {
        if self.header_done && self.buf.is_empty() {
            // The usual case: the server sends one tuple a message, read where it is.
            let used = tuples(chunk, &mut self.finished, &mut row);
            self.buf.extend_from_slice(&chunk[used..]);
            return Ok(());
        }
        self.buf.extend_from_slice(chunk);
        let mut at = 0usize;
        if !self.header_done {
            // Signature (11), flags (4), extension length (4) and the extension.
            if self.buf.len() < 19 {
                return Ok(());
            }
            let ext = u32::from_be_bytes([self.buf[15], self.buf[16], self.buf[17], self.buf[18]])
                as usize;
            if self.buf.len() < 19 + ext {
                return Ok(());
            }
            if &self.buf[..11] != b"PGCOPY\n\xff\r\n\0" {
                return Err("the server's COPY stream has no binary signature".into());
            }
            at = 19 + ext;
            self.header_done = true;
        }
        at += tuples(&self.buf[at..], &mut self.finished, &mut row);
        self.buf.drain(..at);
        Ok(())
    }
}

/// Hands each complete tuple at the start of `data` to `row`; returns the bytes used (all
/// of them once the trailer has been seen).
fn tuples(data: &[u8], finished: &mut bool, row: &mut impl FnMut(&[Option<&[u8]>])) -> usize {
    // Fields of an ordinary row are gathered on the stack, not allocated per row.
    const FEW: usize = 32;
    let mut few: [Option<&[u8]>; FEW] = [None; FEW];
    let mut many: Vec<Option<&[u8]>> = Vec::new();
    let mut at = 0usize;
    loop {
        if *finished {
            return data.len();
        }
        let mut cur = &data[at..];
        if cur.len() < 2 {
            return at;
        }
        let count = cur.get_i16();
        if count == -1 {
            *finished = true;
            return data.len();
        }
        let count = count.max(0) as usize;
        // Is the whole tuple here? Fields are read as they are checked.
        many.clear();
        let mut complete = true;
        let mut read = 0;
        while read < count {
            if cur.len() < 4 {
                complete = false;
                break;
            }
            let len = cur.get_i32();
            let field = if len < 0 {
                None
            } else if cur.len() < len as usize {
                complete = false;
                break;
            } else {
                let (f, rest) = cur.split_at(len as usize);
                cur = rest;
                Some(f)
            };
            if count <= FEW {
                few[read] = field;
            } else {
                many.push(field);
            }
            read += 1;
        }
        if !complete {
            return at;
        }
        if count <= FEW {
            row(&few[..count]);
        } else {
            row(&many);
        }
        at = data.len() - cur.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_parser_reassembles_tuples_split_across_chunks() {
        let mut stream = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        for i in 0..3i64 {
            stream.extend_from_slice(&2i16.to_be_bytes());
            stream.extend_from_slice(&8i32.to_be_bytes());
            stream.extend_from_slice(&i.to_be_bytes());
            stream.extend_from_slice(&(-1i32).to_be_bytes());
        }
        stream.extend_from_slice(&(-1i16).to_be_bytes());
        for step in [1, 3, 7, stream.len()] {
            let mut p = CopyParser::default();
            let mut seen = Vec::new();
            for chunk in stream.chunks(step) {
                p.feed(chunk, |f| {
                    seen.push((f[0].map(|b| b.to_vec()), f[1].is_none()));
                })
                .unwrap();
            }
            assert_eq!(seen.len(), 3, "chunks of {step}");
            assert_eq!(seen[2].0.as_deref(), Some(&2i64.to_be_bytes()[..]));
            assert!(seen.iter().all(|s| s.1));
        }
    }

    #[test]
    fn one_tuple_a_message_is_read_in_place_and_wide_tuples_too() {
        let mut p = CopyParser::default();
        let mut seen: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
        let mut take =
            |f: &[Option<&[u8]>]| seen.push(f.iter().map(|x| x.map(<[u8]>::to_vec)).collect());
        p.feed(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0", &mut take)
            .unwrap();
        for width in [1usize, 32, 33, 70] {
            let mut t = (width as i16).to_be_bytes().to_vec();
            for k in 0..width {
                if k % 3 == 0 {
                    t.extend_from_slice(&(-1i32).to_be_bytes());
                } else {
                    t.extend_from_slice(&1i32.to_be_bytes());
                    t.push(k as u8);
                }
            }
            p.feed(&t, &mut take).unwrap();
        }
        p.feed(&(-1i16).to_be_bytes(), &mut take).unwrap();
        assert_eq!(seen.len(), 4);
        for (row, width) in seen.iter().zip([1usize, 32, 33, 70]) {
            assert_eq!(row.len(), width);
            for (k, f) in row.iter().enumerate() {
                let want = (k % 3 != 0).then(|| vec![k as u8]);
                assert_eq!(f, &want, "field {k} of {width}");
            }
        }
    }
}
