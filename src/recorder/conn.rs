//! One TCP connection to the server: length-prefixed frames, synchronous, blocking.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use super::jute::{ConnectRequest, ConnectResponse};

/// How long a read may block before the recorder gives up on the server.
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Frames larger than this are refused on read (the server never sends them).
const MAX_FRAME: usize = 64 << 20;

/// Why a frame could not be read or written.
#[derive(Debug)]
pub enum ConnError {
    /// The server closed or reset the connection (the client sees ConnectionLoss).
    Closed(String),
    /// The server did not answer within [`READ_TIMEOUT`]; the recording is aborted.
    Timeout,
    /// Something else went wrong.
    Other(String),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Closed(why) => write!(f, "connection closed by the server ({why})"),
            ConnError::Timeout => write!(
                f,
                "the server did not answer within {} s",
                READ_TIMEOUT.as_secs()
            ),
            ConnError::Other(e) => write!(f, "{e}"),
        }
    }
}

fn classify(e: io::Error) -> ConnError {
    use io::ErrorKind::*;
    match e.kind() {
        WouldBlock | TimedOut => ConnError::Timeout,
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected => {
            ConnError::Closed(e.to_string())
        }
        _ => ConnError::Other(e.to_string()),
    }
}

/// A connection to the server.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
}

impl Conn {
    /// Opens a TCP connection to `addr`.
    pub fn open(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .and_then(|()| stream.set_read_timeout(Some(READ_TIMEOUT)))
            .map_err(|e| format!("socket setup: {e}"))?;
        Ok(Conn { stream })
    }

    /// Sends the handshake and reads the server's answer.
    pub fn handshake(&mut self, req: &ConnectRequest) -> Result<ConnectResponse, ConnError> {
        self.send(&req.encode())?;
        let b = self.recv()?;
        ConnectResponse::decode(&b).map_err(ConnError::Other)
    }

    /// Writes one frame: a 4-byte big-endian length, then the payload.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), ConnError> {
        let len =
            u32::try_from(payload.len()).map_err(|_| ConnError::Other("frame too big".into()))?;
        let mut b = Vec::with_capacity(4 + payload.len());
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(payload);
        self.stream.write_all(&b).map_err(classify)?;
        self.stream.flush().map_err(classify)
    }

    /// Reads one frame's payload.
    pub fn recv(&mut self) -> Result<Vec<u8>, ConnError> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(classify)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(ConnError::Other(format!(
                "frame of {len} bytes from the server"
            )));
        }
        let mut b = vec![0u8; len];
        self.stream.read_exact(&mut b).map_err(classify)?;
        Ok(b)
    }

    /// The local (client-side) port, which identifies the connection in the `cons` 4lw.
    pub fn local_port(&self) -> Option<u16> {
        self.stream.local_addr().ok().map(|a| a.port())
    }

    /// Closes the connection at once (both directions), without reading anything.
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
