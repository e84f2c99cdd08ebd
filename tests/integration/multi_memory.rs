//! A hostile component no Rust guest can be: its core module declares many
//! linear memories. Built here from a hand-made core module and the WIT
//! package, so that the sandbox's memory limit is tested over the sum of
//! an instance's memories, not one memory at a time.
//!
//! Its `info` and `process` only trap: the memories are what it is for,
//! since wasmtime creates them, and the limiter sees them, when the
//! component is instantiated.

use wasm_encoder::{
    CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, MemorySection,
    MemoryType, Module, TypeSection, ValType,
};

/// A component implementing `slate:processor` whose core module has
/// `memories` linear memories of `bytes_each` bytes from the start.
pub fn component(memories: u32, bytes_each: u64) -> Vec<u8> {
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(&wit).expect("the WIT package parses");
    let world = resolve
        .select_world(&[package], Some("processor-plugin"))
        .expect("the processor-plugin world");
    let version = resolve.packages[package].name.version.as_ref();
    let export = |function: &str| {
        let version = version.expect("the package has a version");
        format!("slate:processor/processor@{version}#{function}")
    };
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I32]); // info() -> ptr
    types.ty().function([ValType::I32; 3], [ValType::I32]); // process(date) -> ptr
    types.ty().function([ValType::I32; 4], [ValType::I32]); // cabi_realloc
    module.section(&types);
    let mut functions = FunctionSection::new();
    for ty in 0..3 {
        functions.function(ty);
    }
    module.section(&functions);
    let mut memory = MemorySection::new();
    for _ in 0..memories {
        memory.memory(MemoryType {
            minimum: bytes_each / 65_536,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
    }
    module.section(&memory);
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export(&export("info"), ExportKind::Func, 0);
    exports.export(&export("process"), ExportKind::Func, 1);
    exports.export("cabi_realloc", ExportKind::Func, 2);
    module.section(&exports);
    let mut code = CodeSection::new();
    for _ in 0..3 {
        let mut body = Function::new([]);
        body.instruction(&Instruction::Unreachable);
        body.instruction(&Instruction::End);
        code.function(&body);
    }
    module.section(&code);
    let mut core = module.finish();
    wit_component::embed_component_metadata(
        &mut core,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("embed the component type");
    wit_component::ComponentEncoder::default()
        .module(&core)
        .expect("a core module wit-component accepts")
        .validate(true)
        .encode()
        .expect("a valid component")
}
