import Foundation
import XCTest
import DreamTestSupport
import DreamTensor
import DreamIO

func tempDir() -> String {
    let dir = NSTemporaryDirectory() + "dream-tests-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Builds a safetensors file by hand: header JSON text, then data bytes.
func rawSafetensors(_ header: String, data: [UInt8] = [], lengthOverride: UInt64? = nil) -> Data {
    var d = Data()
    var len = (lengthOverride ?? UInt64(header.utf8.count)).littleEndian
    withUnsafeBytes(of: &len) { d.append(contentsOf: $0) }
    d.append(contentsOf: Array(header.utf8))
    d.append(contentsOf: data)
    return d
}

final class SafeTensorsTests: XCTestCase {
    var dir = ""
    override func setUp() { dir = tempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testRoundTripIsBitExactWithMetadata() throws {
        let a = Tensor.randn([3, 4, 5], seed: 1), b = try Tensor([1, -2.5, .infinity], shape: [3]), c = Tensor(zeros: [0, 2])
        let path = dir + "/t.safetensors"
        try SafeTensors.save(["a": a, "b": b, "empty": c], metadata: ["format": "pt", "k": "32"], to: path)
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.metadata, ["format": "pt", "k": "32"])
        XCTAssertEqual(Set(f.names), ["a", "b", "empty"])
        XCTAssertEqual(try f.tensor("a").scalars, a.scalars)
        XCTAssertEqual(try f.tensor("a").shape, [3, 4, 5])
        XCTAssertEqual(try f.tensor("b").scalars, b.scalars)
        XCTAssertEqual(try f.tensor("empty").shape, [0, 2])
        // Data section starts 8-byte aligned.
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(raw.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } % 8, 0)
    }

    func testReadsHalfBFloatAndIntegerTypes() throws {
        // 1.5 and -2 in F16 (0x3E00, 0xC000), BF16 (0x3FC0, 0xC000), I64 (7, -3).
        let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"i":{"dtype":"I64","shape":[2],"data_offsets":[8,24]}}"#
        var data: [UInt8] = [0x00, 0x3E, 0x00, 0xC0, 0xC0, 0x3F, 0x00, 0xC0]
        for v: Int64 in [7, -3] { withUnsafeBytes(of: v.littleEndian) { data += $0 } }
        let path = dir + "/mixed.safetensors"
        try rawSafetensors(header, data: data).write(to: URL(fileURLWithPath: path))
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(try f.tensor("h").scalars, [1.5, -2])
        XCTAssertEqual(try f.tensor("b").scalars, [1.5, -2])
        XCTAssertEqual(try f.tensor("i").scalars, [7, -3])
        XCTAssertEqual(f.entries["h"]?.dtype, .float16)
    }

    func testRowQuantizedInt8ReadsAsValuesTimesRowScales() throws {
        // I8 [2, 3] = (1, -2, 127; 0, 5, -127) with scales (0.5, 0.25): values q × s, the scale entry hidden.
        let header = #"{"w":{"dtype":"I8","shape":[2,3],"data_offsets":[0,6]},"w.scale":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
        var data: [UInt8] = [1, UInt8(bitPattern: -2), 127, 0, 5, UInt8(bitPattern: -127), 0, 0]
        for v: Float in [0.5, 0.25] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 } }
        let path = dir + "/q.safetensors"
        try rawSafetensors(header, data: data).write(to: URL(fileURLWithPath: path))
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(f.names, ["w"])
        XCTAssertEqual(try f.tensor("w").scalars, [0.5, -1, 63.5, 0, 1.25, -31.75])
        // Scales of the wrong shape are refused, naming the tensor.
        let bad = #"{"w":{"dtype":"I8","shape":[2,3],"data_offsets":[0,6]},"w.scale":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#
        expectError(rawSafetensors(bad, data: data + [0, 0, 0, 0]), "scales of I8 [2, 3] must be float [2]")
    }

    func testInt8WritingQuantizesMatricesPerRowWithinHalfAStep() throws {
        let w = try Tensor.randn([6, 4, 3, 3], seed: 3) * Tensor.randn([6, 1, 1, 1], seed: 4), b = Tensor.randn([6], seed: 5)
        for i in 36..<72 { w.pointer[i] = 0 }  // an all-zero row (scale 0)
        let path = dir + "/w.safetensors"
        try SafeTensors.save(["conv.weight": w, "conv.bias": b], to: path, int8: true)
        let f = try SafeTensorsFile(path: path)
        XCTAssertEqual(Set(f.names), ["conv.weight", "conv.bias"])
        XCTAssertEqual(f.entries["conv.weight"]?.dtype, .int8)
        XCTAssertEqual(f.entries["conv.bias"]?.dtype, .float32)
        XCTAssertEqual(try f.tensor("conv.bias").scalars, b.scalars)
        let r = try f.tensor("conv.weight")
        XCTAssertEqual(r.shape, [6, 4, 3, 3])
        for row in 0..<6 {
            let values = Array(w.scalars[row * 36..<(row + 1) * 36]), back = Array(r.scalars[row * 36..<(row + 1) * 36])
            let step = values.map(abs).max()! / 127
            for (v, q) in zip(values, back) { XCTAssertLessThanOrEqual(abs(v - q), step / 2 * 1.0001 + 1e-12) }
            XCTAssertEqual(back.map(abs).max()!, values.map(abs).max()!, accuracy: step * 1e-5)
        }
        // The file is about a quarter of Float32's.
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        XCTAssertLessThan(size, 6 * 36 + 6 * 4 + 6 * 4 + 300)
    }

    func expectError(_ data: Data, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        let path = dir + "/bad-\(UUID().uuidString).safetensors"
        try! data.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SafeTensorsFile(path: path), file: file, line: line) { error in
            guard let e = error as? FileError else { return XCTFail("not a FileError: \(error)", file: file, line: line) }
            XCTAssertEqual(e.path, path, file: file, line: line)
            XCTAssertTrue(e.problem.contains(fragment), "'\(e.problem)' should mention '\(fragment)'", file: file, line: line)
        }
    }

    func testMalformedFilesAreRefusedWithTheProblem() {
        let t = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        expectError(Data(), "empty")
        expectError(Data([1, 2, 3]), "truncated")
        expectError(rawSafetensors(t, data: Array(repeating: 0, count: 8), lengthOverride: 1 << 20), "beyond the end of the file")
        expectError(rawSafetensors(#"{"x": [1, 2"#), "not valid JSON")
        expectError(rawSafetensors(#"[1, 2]"#), "not a JSON object")
        expectError(rawSafetensors(t, data: Array(repeating: 0, count: 4)), "outside the data section")
        expectError(rawSafetensors(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[6,2]}}"#, data: Array(repeating: 0, count: 8)), "outside the data section")
        expectError(rawSafetensors(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                                   data: Array(repeating: 0, count: 12)), "overlap")
        expectError(rawSafetensors(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)), "needs 12")
        expectError(rawSafetensors(#"{"x":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)), "unknown dtype 'Q7'")
        expectError(rawSafetensors(#"{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)), "negative dimension")
        expectError(rawSafetensors(#"{"x":{"dtype":"F32","shape":[2]}}"#, data: Array(repeating: 0, count: 8)), "data_offsets")
        expectError(rawSafetensors(#"{"x":{"dtype":"F32","shape":[4611686018427387904, 4],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)), "absurd")
    }

    func testMissingFileAndMissingTensorNameThePath() throws {
        XCTAssertThrowsError(try SafeTensorsFile(path: dir + "/nope.safetensors")) {
            XCTAssertEqual("\($0)", dir + "/nope.safetensors: no such file")
        }
        let path = dir + "/one.safetensors"
        try SafeTensors.save(["x": Tensor(zeros: [1])], to: path)
        XCTAssertThrowsError(try SafeTensorsFile(path: path).tensor("y")) { XCTAssertTrue("\($0)".contains("no tensor named 'y'")) }
    }

    func testFailedWriteLeavesTheOldFileAndNoTemporaries() throws {
        let path = dir + "/keep.safetensors"
        try SafeTensors.save(["x": Tensor(repeating: 3, shape: [2])], to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try writeAtomically(path) { write in
            try [UInt8](repeating: 1, count: 100).withUnsafeBytes { try write($0) }
            throw FileError(path, "simulated failure halfway")
        })
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["keep.safetensors"])
        // A folder that cannot exist (its parent is a file) is an error naming the path; a missing folder is made.
        XCTAssertThrowsError(try SafeTensors.save(["x": Tensor(zeros: [1])], to: dir + "/keep.safetensors/sub/x.safetensors")) {
            XCTAssertTrue("\($0)".contains("keep.safetensors/sub"), "\($0)")
        }
        try SafeTensors.save(["x": Tensor(zeros: [1])], to: dir + "/new/folder/x.safetensors")
        XCTAssertEqual(try SafeTensorsFile(path: dir + "/new/folder/x.safetensors").tensor("x").scalars, [0])
    }

    /// A writer killed outright leaves its temporary file; the next write of the same target removes it,
    /// but not a live writer's (its lock is held), nor another target's.
    func testTheNextWriteRemovesADeadWritersTemporaryButNotALiveOnes() throws {
        let path = dir + "/ck.safetensors"
        let dead = dir + "/.ck.safetensors.tmp-dead01"
        let live = dir + "/.ck.safetensors.tmp-live01"
        let other = dir + "/.other.safetensors.tmp-dead02"
        for file in [dead, live, other] { XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data([1, 2, 3]))) }
        let holder = open(live, O_RDONLY)
        XCTAssertGreaterThanOrEqual(holder, 0)
        XCTAssertEqual(flock(holder, LOCK_EX | LOCK_NB), 0)
        try SafeTensors.save(["x": Tensor(repeating: 2, shape: [3])], to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(),
                       [".ck.safetensors.tmp-live01", ".other.safetensors.tmp-dead02", "ck.safetensors"])
        close(holder)   // the live writer ends without cleaning up: now it is a dead one's file
        try SafeTensors.save(["x": Tensor(repeating: 4, shape: [3])], to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), [".other.safetensors.tmp-dead02", "ck.safetensors"])
        XCTAssertEqual(try SafeTensorsFile(path: path).tensor("x").scalars, [4, 4, 4])
    }
}
