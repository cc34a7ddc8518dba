//! `inet` and `cidr` values in PostgreSQL's binary COPY form.

/// An `inet` or `cidr` value in PostgreSQL's binary form: family, bits, is-cidr, length,
/// address bytes.
pub fn inet(s: &str, cidr: bool, out: &mut Vec<u8>) -> Result<(), String> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("'{s}' is not an IP address"))?;
    let mut octets = [0u8; 16];
    let (family, bytes): (u8, &[u8]) = match ip {
        std::net::IpAddr::V4(v) => {
            octets[..4].copy_from_slice(&v.octets());
            (2, &octets[..4])
        }
        std::net::IpAddr::V6(v) => {
            octets = v.octets();
            (3, &octets[..])
        }
    };
    let max = (bytes.len() * 8) as u8;
    let bits = match bits {
        Some(b) => b
            .parse::<u8>()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("'{s}' has no valid prefix length"))?,
        None => max,
    };
    if cidr {
        let host_bits_set = bytes.iter().enumerate().any(|(i, byte)| {
            let start = (i * 8) as u8;
            let keep = bits.saturating_sub(start).min(8);
            let mask = if keep == 8 { 0xff } else { !(0xffu8 >> keep) };
            byte & !mask != 0
        });
        if host_bits_set {
            return Err(format!(
                "'{s}' has bits set to the right of its mask, which cidr refuses"
            ));
        }
    }
    out.extend_from_slice(&[family, bits, u8::from(cidr), bytes.len() as u8]);
    out.extend_from_slice(bytes);
    Ok(())
}
