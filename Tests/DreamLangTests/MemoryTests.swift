import Foundation
import XCTest
import DreamTestSupport
import DreamLang
import DreamSession
import DreamTensor

/// Work whose size is known before it starts is refused with the size, the estimate and the memory
/// available, before anything big is allocated: generate, decode, encode_image, evaluate and learn on the
/// built-in model, each asked for about 100 GB or more (the estimates are computed by hand in the comments).
final class MemoryTests: XCTestCase {
    func testWorkThatCannotFitIsRefusedBeforeItStarts() throws {
        let free = try XCTUnwrap(Memory.available())
        guard free < 90_000_000_000 else { throw XCTSkip("this machine has \(Memory.format(Double(free))) available: every request here would fit") }
        let session = Session()
        let interp = Interpreter(registry: session.registry)
        interp.write = { _ in }
        interp.warn = { _ in }
        try interp.run(SourceFile(name: "t", text: "let m = model(\"builtin\")\nlet refs = world.references(\"toy-box\")"))
        func refused(_ code: String, _ what: String, _ file: StaticString = #filePath, _ line: UInt = #line) {
            XCTAssertThrowsError(try interp.run(SourceFile(name: "t", text: code)), file: file, line: line) { e in
                let text = "\(e)"
                XCTAssertTrue(text.contains(what) && text.contains(" needs about ") && text.contains(" is available"), text, file: file, line: line)
            }
        }
        // 4096² pixels × 32 channels × 144 bytes (the VAE) + 2 × 1024² latents × 128 channels × 120 bytes: 109 GB.
        refused("generate(m, \"a red cone\", n: 1, steps: 1, size: 4096)", "generating 1 image of 4096×4096 at once")
        // One image's VAE at 4096² (77 GB) and the results.
        refused("decode(m, zeros([2, 4, 1024, 1024]))", "decoding 2 latents to 4096×4096")
        refused("encode_image(m, zeros([1, 3, 4096, 4096]))", "encoding 1 image of 4096×4096")
        // 200,000 images × 491,520 bytes: 98 GB.
        refused("evaluate(zeros([200000, 3, 4, 4]), reference: \"toy-box\", references: refs)", "evaluate: 200000 images")
        // The paper's objective: 2 references × 4096 samples per step, taped, each 16² latents × 128 channels × 360 bytes: 97 GB.
        refused("learn(m, refs, objective: \"paper\", samples: 4096, steps: 1)", "learning (8192 UNet passes of 64×64 per step with their gradients)")
        // Competing prompts: 2 references taped; 2 × 32768 scored without a tape, each 16² × 128 × 48 bytes (103 GB);
        // the text encoder's 32768 prompts × 77 tokens × 128 × 4 bytes × 3 layers × 20 (78 GB).
        refused("learn(m, refs, prompts: 32768, steps: 1)", "learning (2 UNet passes of 64×64 per step with their gradients, 65536 without)")
        // With a blend, 4 more taped passes (twice the competition's batch).
        refused("learn(m, refs, prompts: 32768, blend: true, steps: 1)", "learning (6 UNet passes of 64×64 per step with their gradients, 65536 without)")
        // A size that fits is not refused.
        XCTAssertNoThrow(try interp.run(SourceFile(name: "t", text: "print(decode(m, zeros([3, 4, 4, 4])).shape)")))
    }
}
