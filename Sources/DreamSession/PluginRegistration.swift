import Foundation
import CDreamPlugin
import DreamTensor
import DreamDiffusion
import DreamLang

/// What a plugin registers during `dream_plugin_init`, collected first and added only if all of it is sound.
final class Registration {
    let path: String
    /// The ABI the plugin was built for: what its functions may be handed.
    let abi: UInt32
    var name: String?
    var doc = ""
    var samplers: [(name: String, family: String, sampler: Sampler)] = []
    var functions: [(name: String, signature: String, doc: String, function: PluginFunction)] = []
    var problems: [String] = []

    init(path: String, abi: UInt32) { self.path = path; self.abi = abi }

    static func of(_ p: UnsafeMutableRawPointer?) -> Registration { Unmanaged<Registration>.fromOpaque(p!).takeUnretainedValue() }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && CharacterSet.letters.contains(first)) else { return false }
        // A keyword could be registered but never called (`let.f()` does not parse).
        return !languageKeywords.contains(s) && s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    static let setName: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32 = { h, name, doc in
        let r = of(h)
        let n = name.map { String(cString: $0) } ?? ""
        guard r.name == nil else { r.problems.append("set_name called twice"); return 1 }
        guard isIdentifier(n) else { r.problems.append("invalid name \"\(n)\" (letters, digits and _, not starting with a digit, not a keyword)"); return 1 }
        r.name = n
        r.doc = doc.map { String(cString: $0) } ?? ""
        return 0
    }

    static let addSampler: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                           dream_sampler_fn?, UnsafeMutableRawPointer?) -> Int32 = { h, name, family, _, fn, data in
        let r = of(h)
        let n = name.map { String(cString: $0) } ?? "", fam = family.map { String(cString: $0) } ?? "euler"
        guard isIdentifier(n), let fn else { r.problems.append("sampler \"\(n)\": needs an identifier name and a function"); return 1 }
        guard !r.samplers.contains(where: { $0.name == n }) else { r.problems.append("sampler \"\(n)\" added twice"); return 1 }
        r.samplers.append((n, fam, PluginSampler(fn: fn, data: data, plugin: r.path).sampler))
        return 0
    }

    static let addFunction: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                            dream_function_fn?, UnsafeMutableRawPointer?) -> Int32 = { h, name, signature, doc, fn, data in
        let r = of(h)
        let n = name.map { String(cString: $0) } ?? ""
        guard isIdentifier(n), let fn else { r.problems.append("function \"\(n)\": needs an identifier name and a function"); return 1 }
        guard !r.functions.contains(where: { $0.name == n }) else { r.problems.append("function \"\(n)\" added twice"); return 1 }
        r.functions.append((n, signature.map { String(cString: $0) } ?? "\(n)(...)", doc.map { String(cString: $0) } ?? "", PluginFunction(fn: fn, data: data, abi: r.abi)))
        return 0
    }

    static let fail: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void = { h, message in
        of(h).problems.append(message.map { String(cString: $0) } ?? "failed")
    }
}
