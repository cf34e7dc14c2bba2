import Foundation
import DreamTensor
import DreamIO

extension Registry {
    func registerFiles() {
        let topic = "files"
        register(Builtin("load", [.positional("path", .string)],
                         doc: "Reads a file by its extension: .safetensors → dictionary of tensors, .png → image batch [1, 3, H, W], .json → values.",
                         example: "let imgs = load(\"cat.png\")") { a, _ in
            let path = try a.string("path")
            switch (path as NSString).pathExtension.lowercased() {
            case "safetensors":
                let f = try SafeTensorsFile(path: path)
                // A file a later layer wrote (a distribution): that layer reads it.
                if let name = f.metadata["format"], let read = self.objectReaders[name] { return .object(try read(f)) }
                return .dict(OrderedDict(try f.names.map { ($0, .tensor(try f.tensor($0))) }))
            case "png":
                return .tensor(try PNG.read(path))
            case "json":
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw FileError(path, FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
                }
                let obj: Any
                do { obj = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
                    throw FileError(path, "not valid JSON")
                }
                return valueFromJSON(obj)
            default:
                throw ArgumentError("load: unknown file type '.\((path as NSString).pathExtension)' (known: .safetensors, .png, .json)", argument: "path")
            }
        }, topic: topic)
        register(Builtin("save", [.positional("path", .string), .positional("value", .any), .labeled("columns", .optional(.int), "images per row of a PNG grid")],
                         doc: "Writes a file by its extension (atomically): .safetensors ← tensor, dictionary of tensors or distribution, .png ← image batch (a grid when several), .json ← plain values, .md/.txt/.csv ← a string.",
                         example: "save(\"out.png\", images, columns: 4)") { a, _ in
            let path = try a.string("path")
            let value = a["value"]
            switch (path as NSString).pathExtension.lowercased() {
            case "safetensors":
                switch value {
                case .object(let o as SavableObject): try o.save(to: path)
                case .tensor(let t): try SafeTensors.save(["tensor": t], to: path)
                case .dict(let d):
                    var ts: [String: Tensor] = [:]
                    for (k, v) in d.pairs {
                        guard case .tensor(let t) = v else { throw ArgumentError("save: \"\(k)\" is \(describeForError(v)); a .safetensors file holds tensors", argument: "value") }
                        ts[k] = t
                    }
                    try SafeTensors.save(ts, to: path)
                case let v: throw ArgumentError("save: a .safetensors file holds a tensor or a dictionary of tensors, got \(describeForError(v))", argument: "value")
                }
            case "png":
                guard case .tensor(let t) = value else { throw ArgumentError("save: a .png file holds an image batch [N, 3, H, W], got \(describeForError(value))", argument: "value") }
                try PNG.write(t, to: path, columns: a.optionalInt("columns"))
            case "json":
                let obj = try jsonFromValue(value)
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
                try writeAtomically(path) { write in try data.withUnsafeBytes { try write($0) } }
            case "md", "txt", "csv":
                guard case .string(let text) = value else { throw ArgumentError("save: a .\((path as NSString).pathExtension) file holds a string, got \(describeForError(value))", argument: "value") }
                let data = Data(text.utf8)
                try writeAtomically(path) { write in try data.withUnsafeBytes { try write($0) } }
            default:
                throw ArgumentError("save: unknown file type '.\((path as NSString).pathExtension)' (known: .safetensors, .png, .json, and .md, .txt, .csv for text)", argument: "path")
            }
            return .none
        }, topic: topic)
        register(Builtin("files", [.positional("pattern", .string)],
                         doc: "The paths matching a glob pattern, sorted by name ([] when none match).",
                         example: "files(\"results/*.json\")") { a, _ in
            .list(try globFiles(try a.string("pattern")).map { .string($0) })
        }, topic: topic)
        register(Builtin("images", [.positional("pattern", .string), .labeled("size", .optional(.ints), "height and width (one number: square)")],
                         doc: "Reads the PNG files matching a glob pattern (sorted by name) as one batch [N, 3, H, W], resized to size when given (else to the first file's size, with a warning, when sizes differ).",
                         example: "let refs = images(\"refs/*.png\", size: 64)") { a, ip in
            let pattern = try a.string("pattern")
            let paths = try globFiles(pattern)
            guard !paths.isEmpty else { throw ArgumentError("images: no files match \"\(pattern)\"", argument: "pattern") }
            var size: (Int, Int)? = nil
            if a.has("size") {
                let s = try a.ints("size")
                guard s.count == 1 || s.count == 2 else { throw ArgumentError("images: size is one or two integers", argument: "size") }
                let (h, w) = (s[0], s.count == 2 ? s[1] : s[0])
                guard h >= 1, w >= 1, h <= 4096, w <= 4096 else {
                    throw ArgumentError("images: size \(h)×\(w): height and width must be multiples of 1 from 1 to 4096", argument: "size")
                }
                size = (h, w)
                // The batch, and a resize's input and output per image.
                do { try Memory.check(Double(paths.count) * 3 * Double(h * w) * 4 * 1.5, for: "images: \(paths.count) image\(paths.count == 1 ? "" : "s") of \(w)×\(h)") }
                catch let e as TensorError { throw ArgumentError(e.message, argument: "size") }
            }
            var batch: [Tensor] = []
            var resized = 0
            for path in paths {
                var img = try PNG.read(path)
                if let (h, w) = size { img = try img.resized(height: h, width: w) }
                // Mixed sizes: every image takes the first one's size, and the user is told.
                if let first = batch.first, first.shape != img.shape {
                    img = try img.resized(height: first.shape[2], width: first.shape[3])
                    resized += 1
                }
                batch.append(img)
            }
            if resized > 0 {
                ip.warn("images: the files have different sizes; \(resized) of \(paths.count) resized to \(batch[0].shape[3])×\(batch[0].shape[2]) (the size of \((paths[0] as NSString).lastPathComponent)); pass size: to choose")
            }
            return .tensor(try concatenate(batch, axis: 0))
        }, topic: topic)
    }
}

/// Files matching a shell glob, sorted.
func globFiles(_ pattern: String) throws -> [String] {
    var g = glob_t()
    defer { globfree(&g) }
    let rc = glob(pattern, 0, nil, &g)
    if rc == GLOB_NOMATCH { return [] }
    guard rc == 0 else { throw ArgumentError("cannot read the pattern \"\(pattern)\"", argument: "pattern") }
    return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
}

func valueFromJSON(_ o: Any) -> Value {
    switch o {
    case let s as String: return .string(s)
    case let n as NSNumber:
        if String(cString: n.objCType) == "c" { return .bool(n.boolValue) }
        return .number(n.doubleValue)
    case let a as [Any]: return .list(a.map(valueFromJSON))
    case let d as [String: Any]: return .dict(OrderedDict(d.keys.sorted().map { ($0, valueFromJSON(d[$0]!)) }))
    default: return .none
    }
}

func jsonFromValue(_ v: Value) throws -> Any {
    switch v {
    case .none: return NSNull()
    case .number(let x): return x
    case .string(let s): return s
    case .bool(let b): return b
    case .list(let xs): return try xs.map(jsonFromValue)
    case .dict(let d): return Dictionary(uniqueKeysWithValues: try d.pairs.map { ($0.0, try jsonFromValue($0.1)) })
    case .range: return try jsonFromValue(coerce(v, to: .list)!)
    case .tensor(let t):
        func nest(_ dim: Int, _ off: Int) -> Any {
            if dim == t.rank { return Double(t.pointer[off]) }
            let stride = t.shape[(dim + 1)...].reduce(1, *)
            return (0..<t.shape[dim]).map { nest(dim + 1, off + $0 * stride) }
        }
        return nest(0, 0)
    default: throw ArgumentError("save: \(describeForError(v)) cannot be written as JSON", argument: "value")
    }
}

extension Registry {
    /// The language's own built-ins: core, tensors, files. Later layers add theirs.
    /// The language's own built-ins (core, tensors, files) and meta-commands; a session adds the domain's.
    public static func standard() -> Registry {
        let r = Registry()
        r.registerCore()
        r.registerTensors()
        r.registerFiles()
        r.registerPictures()
        r.registerMetaCommands()
        return r
    }
}
