import Foundation
import CDreamPlugin
import DreamTensor
import DreamDiffusion
import DreamLang

/// A loaded plugin: its file, namespace and what it added.
public struct PluginInfo {
    public let path: String
    public let name: String
    public let doc: String
    public let samplers: [String]
    public let functions: [String]
}

/// A plugin that could not be loaded, and why.
public struct PluginError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Loads plugins — shared libraries speaking the C ABI of `dream_plugin.h` — and adds their samplers and
/// functions. Only C types cross the boundary, so a plugin has no copy of dream's Swift modules to
/// disagree with. A library once opened stays open (unloading Swift code is unsafe), even when its
/// initialisation failed; nothing it registered is kept in that case.
public final class PluginHost {
    public private(set) var loaded: [PluginInfo] = []
    public let registry: Registry
    public let samplers: SamplerRegistry

    public init(registry: Registry, samplers: SamplerRegistry) { self.registry = registry; self.samplers = samplers }

    /// The library a plugin name stands for in the search folders: DIR/libNAME.so, or the build output of
    /// a plugin package DIR/NAME/.build/release/libNAME.so (the layout of `Plugins/`). A path is itself.
    public static func find(_ nameOrPath: String, in dirs: [String]) -> String? {
        let fm = FileManager.default
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".so") { return fm.fileExists(atPath: nameOrPath) ? nameOrPath : nil }
        for dir in dirs {
            if fm.fileExists(atPath: "\(dir)/lib\(nameOrPath).so") { return "\(dir)/lib\(nameOrPath).so" }
            // A package folder, named in any case (Plugins/KDiffusion builds libkdiffusion.so).
            for e in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() where e.lowercased() == nameOrPath.lowercased() {
                let candidate = "\(dir)/\(e)/.build/release/lib\(nameOrPath.lowercased()).so"
                if fm.fileExists(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    /// The plugin libraries directly in the search folders (lib*.so), loaded at start.
    public static func libraries(in dirs: [String]) -> [String] {
        dirs.flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
                .filter { $0.hasPrefix("lib") && $0.hasSuffix(".so") }.map { "\(dir)/\($0)" }
        }
    }

    /// Opens the library, checks its ABI, lets it register, and adds what it registered.
    @discardableResult
    public func load(path: String) throws -> PluginInfo {
        func canonical(_ p: String) -> String { URL(fileURLWithPath: p).resolvingSymlinksInPath().standardizedFileURL.path }
        if let p = loaded.first(where: { canonical($0.path) == canonical(path) }) {
            throw PluginError(message: "plugin \(path) is already loaded (as \(p.name))")
        }
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw PluginError(message: "cannot load plugin \(path): \(String(cString: dlerror()))")
        }
        guard let abiSymbol = dlsym(handle, "dream_plugin_abi"), let initSymbol = dlsym(handle, "dream_plugin_init") else {
            throw PluginError(message: "\(path) is not a dream plugin (it must export dream_plugin_abi and dream_plugin_init)")
        }
        let abi = unsafeBitCast(abiSymbol, to: (@convention(c) () -> UInt32).self)()
        guard (UInt32(DREAM_PLUGIN_ABI_OLDEST)...UInt32(DREAM_PLUGIN_ABI)).contains(abi) else {
            throw PluginError(message: "plugin \(path) was built for plugin ABI \(abi); this dream speaks ABI \(DREAM_PLUGIN_ABI_OLDEST) to \(DREAM_PLUGIN_ABI) (rebuild the plugin against this dream's dream_plugin.h)")
        }
        let r = Registration(path: path, abi: abi)
        let box = Unmanaged.passRetained(r)
        defer { box.release() }
        var host = dream_host(abi: UInt32(DREAM_PLUGIN_ABI), host: box.toOpaque(),
                              set_name: Registration.setName, add_sampler: Registration.addSampler,
                              add_function: Registration.addFunction, fail: Registration.fail)
        let status = unsafeBitCast(initSymbol, to: (@convention(c) (UnsafePointer<dream_host>) -> Int32).self)(&host)
        if let problem = r.problems.first { throw PluginError(message: "plugin \(path): \(problem)") }
        guard status == 0 else { throw PluginError(message: "plugin \(path) failed to initialise (status \(status))") }
        guard let name = r.name else { throw PluginError(message: "plugin \(path) did not name itself (set_name)") }
        if registry.namespaces[name] != nil || registry.functions[name] != nil {
            throw PluginError(message: "plugin \(path): the name \"\(name)\" is already taken")
        }
        for s in r.samplers {
            do { _ = try samplers.validate(s.name, family: s.family) } catch { throw PluginError(message: "plugin \(path): \(error)") }
        }
        // Everything checked: add it.
        for s in r.samplers { try samplers.register(s.name, family: s.family, s.sampler) }
        for f in r.functions {
            let call = f.function
            registry.register(Builtin(f.name, [], variadic: true, doc: f.doc, example: "\(name).\(f.signature)") { a, ip in
                try call.call(a.rest, name: a.function.qualifiedName, warn: { ip.warn($0) })
            }, in: name, doc: r.doc)
        }
        if r.functions.isEmpty { registry.register(namespace: name, doc: r.doc) }
        let info = PluginInfo(path: path, name: name, doc: r.doc, samplers: r.samplers.map(\.name), functions: r.functions.map(\.name))
        loaded.append(info)
        return info
    }
}
