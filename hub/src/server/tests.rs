use std::net::SocketAddr;

use super::listen;

#[tokio::test]
async fn accepted_sockets_have_nagle_off() {
    let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0))).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (accepted, _) = listener.accept().await.expect("accept");
    assert!(
        accepted.nodelay().expect("nodelay"),
        "inherited from the listener"
    );
    drop(client);
}
