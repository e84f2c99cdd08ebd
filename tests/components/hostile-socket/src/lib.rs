//! Hostile test fixture `HostileSocket`: tries to open a TCP connection to a port the test listens on.

use slate_sdk::{Columns, ProcessError, RowExt};

fixture_common::processor! {
    HostileSocket,
    info: hostile_common::info("HostileSocket", "hostile_socket"),
    process: |date| {
        let control =
            slate_sdk::read_rows(&slate_sdk::table(hostile_common::CONTROL), date, date)?;
        let port = Columns::new(&control).index("port")?;
        let port = control
            .rows
            .first()
            .map(|row| row.int64(port, "port"))
            .transpose()?
            .unwrap_or(9);
        match std::net::TcpStream::connect(("127.0.0.1", port as u16)) {
            Ok(_) => Err(ProcessError::Internal(format!(
                "connected to 127.0.0.1:{port}"
            ))),
            Err(error) => Err(ProcessError::Internal(format!(
                "could not connect to 127.0.0.1:{port}: {error}"
            ))),
        }
    },
}
