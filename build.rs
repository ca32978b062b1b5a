fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // A SONAME lets a host that dlopen()s the library by full path (CmLibrary.Load in the C# binding, for
    // PowerShell 7 and Mono on Linux) have later DllImport("cm_smartcard") lookups find that loaded copy.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcm_smartcard.so");
    }
}
