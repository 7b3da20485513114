//! SDK
#[doc(hidden)]
#[allow(missing_docs, unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "mini-service",
        pub_export_macro: true,
        default_bindings_module: "islet_sdk::bindings",
        debug: true,
    });
}
