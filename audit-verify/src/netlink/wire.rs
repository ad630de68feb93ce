//! `nlmsghdr` framing (include/uapi/linux/netlink.h): the one splitter of netlink datagrams, for the
//! request socket and the multicast listener alike.

use thiserror::Error;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 1;
pub const NLM_F_ACK: u16 = 4;

const HEADER_LEN: usize = 16;

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One received netlink message, borrowing the receive buffer.
#[derive(Debug)]
pub struct Message<'a> {
    pub ty: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

impl Message<'_> {
    /// The (negative errno or 0) code of an `NLMSG_ERROR` message.
    #[must_use]
    pub fn error_code(&self) -> Option<i32> {
        Some(i32::from_ne_bytes(self.payload.get(..4)?.try_into().ok()?))
    }
}

/// One netlink message: the header, then `payload`, padded to 4 bytes.
#[must_use]
#[expect(clippy::cast_possible_truncation, reason = "our requests are rules and short messages, far below 4 GiB")]
pub fn encode(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = HEADER_LEN + payload.len();
    let mut out = Vec::with_capacity(align4(len));
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills in ours
    out.extend_from_slice(payload);
    out.resize(align4(len), 0);
    out
}

/// A header whose length does not fit the datagram: the rest of the datagram cannot be framed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("nlmsg_len {len} with {left} bytes left in the datagram")]
pub struct FrameError {
    pub len: usize,
    pub left: usize,
}

/// Splits a datagram into messages. A malformed header ends the iteration with an error; trailing bytes
/// too short for a header are ignored (padding).
#[expect(clippy::missing_panics_doc, reason = "a 4-byte slice always converts to `[u8; 4]`")]
pub fn decode(mut buf: &[u8]) -> impl Iterator<Item = Result<Message<'_>, FrameError>> {
    std::iter::from_fn(move || {
        if buf.len() < HEADER_LEN {
            return None;
        }
        let u32_at = |at: usize| u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap());
        let len = u32_at(0) as usize;
        if len < HEADER_LEN || len > buf.len() {
            let err = FrameError { len, left: buf.len() };
            buf = &[];
            return Some(Err(err));
        }
        let message = Message {
            ty: u16::from_ne_bytes(buf[4..6].try_into().unwrap()),
            seq: u32_at(8),
            payload: &buf[HEADER_LEN..len],
        };
        buf = &buf[align4(len).min(buf.len())..];
        Some(Ok(message))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips_and_pads() {
        let mut datagram = encode(1000, NLM_F_REQUEST, 7, b"abcde");
        assert_eq!(datagram.len(), 24);
        datagram.extend(encode(NLMSG_DONE, 0, 8, &[]));
        let messages: Vec<_> = decode(&datagram).collect::<Result<_, _>>().unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!((messages[0].ty, messages[0].seq, messages[0].payload), (1000, 7, &b"abcde"[..]));
        assert_eq!((messages[1].ty, messages[1].seq), (NLMSG_DONE, 8));
    }

    #[test]
    fn a_length_past_the_buffer_is_an_error_not_a_panic() {
        let mut datagram = encode(1000, 0, 1, b"abcd");
        datagram[0] = 200;
        let results: Vec<_> = decode(&datagram).collect();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].as_ref().unwrap_err(), &FrameError { len: 200, left: 20 });
    }
}
