//! `hello-lambda`: the smallest `lambda_http` function (200 "hello" for every request), built
//! with the same profile and the same `lambda_http` features as `ward-lambda`. It is the
//! baseline of the cold-start and binary-size benchmark.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

async fn hello(_req: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Body::from("hello"))?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
