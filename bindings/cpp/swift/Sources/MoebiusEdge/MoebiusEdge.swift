// Swift wrapper over the C ABI (include/moebius_edge.h, version 2) for iOS/macOS apps.
// Not built here: there is no Swift toolchain on the project's machines. build_on_mac.sh builds it on a Mac, and
// tests/test_bindings_swift_mirror.py runs every C ABI call this file makes, with the same arguments, under
// AddressSanitizer (bindings/cpp/tests/swift_call_mirror.c): keep the two in step.
//
// It runs Core ML bundles exported as `moebius-edge export --backend executorch-coreml` (three .pte files whose
// graphs are delegated to Core ML) through libmoebius_edge built against an Apple build of ExecuTorch with its
// Core ML backend linked in (see bindings/cpp/README.md); plain `executorch` (XNNPACK) bundles run the same way.
//
//   let engine = try MoebiusEdge(bundle: Bundle.main.url(forResource: "tiny-coreml", withExtension: nil)!)
//   let filled = try engine.inpaintStepByStep(rgba: pixels, mask: maskBytes, seed: 7) { step, steps, ms in
//       progress.completedUnitCount = Int64(step)
//   }
//
// Every pointer goes to the C ABI with its array's length, so a short array is the C ABI's
// MOEBIUS_ERROR_INVALID_ARGUMENT, never an out-of-bounds read or write.
import CoreGraphics
import Foundation
import MoebiusEdgeC

public struct MoebiusEdgeError: Error, CustomStringConvertible {
    /// The C ABI's status (e.g. MOEBIUS_ERROR_NOT_FOUND, MOEBIUS_ERROR_IMAGE_SIZE).
    public let status: moebius_status
    public let message: String

    public var description: String { "\(String(cString: moebius_status_name(status))): \(message)" }

    static func check(_ status: moebius_status) throws {
        if status != MOEBIUS_OK {
            throw MoebiusEdgeError(status: status, message: String(cString: moebius_last_error()))
        }
    }
}

/// The encode graph's outputs, the step graph's fixed inputs. `cleanLatents` is nil when strength is 1.
public struct Encoded {
    public let maskedLatents: [Float]
    public let maskLatent: [Float]
    public let cleanLatents: [Float]?
}

/// An opened bundle. Not thread-safe: use one instance per thread (or a serial queue), off the main thread.
public final class MoebiusEdge {
    private let engine: OpaquePointer
    public let info: moebius_info
    public let imageSize: Int
    public let latentCount: Int
    public let steps: Int
    public let precision: String

    /// MOEBIUS_EDGE_ABI_VERSION of the library actually loaded.
    public static var abiVersion: Int32 { moebius_abi_version() }

    /// `loadInTurn`: hold one graph at a time (MOEBIUS_OPEN_LOAD_IN_TURN): a lower peak, and each inpaint reloads the graphs.
    /// `threads`: 1 to 255 sets the size of ExecuTorch's process-wide thread pool (MOEBIUS_OPEN_THREADS); 0 leaves it.
    public init(bundle: URL, verifyChecksums: Bool = true, loadInTurn: Bool = false, threads: Int = 0) throws {
        guard moebius_abi_version() == MOEBIUS_EDGE_ABI_VERSION else {
            throw MoebiusEdgeError(status: MOEBIUS_ERROR_UNSUPPORTED,
                                   message: "libmoebius_edge has C ABI version \(moebius_abi_version()), this wrapper needs \(MOEBIUS_EDGE_ABI_VERSION)")
        }
        var handle: OpaquePointer?
        guard (0...255).contains(threads) else {
            throw MoebiusEdgeError(status: MOEBIUS_ERROR_INVALID_ARGUMENT, message: "threads must be 0 to 255, got \(threads)")
        }
        let flags = (verifyChecksums ? MOEBIUS_OPEN_DEFAULT : MOEBIUS_OPEN_SKIP_CHECKSUMS) | (loadInTurn ? MOEBIUS_OPEN_LOAD_IN_TURN : 0)
            | (UInt32(threads) << 8)  // MOEBIUS_OPEN_THREADS(threads): Swift does not import function-like macros
        try MoebiusEdgeError.check(moebius_open(bundle.path, UInt32(flags), &handle))
        let opened = handle!
        var info = moebius_info()
        info.struct_size = UInt32(MemoryLayout<moebius_info>.size)  // the C ABI fills what fits (growth)
        let status = moebius_get_info(opened, &info)
        if status != MOEBIUS_OK {
            let error = MoebiusEdgeError(status: status, message: String(cString: moebius_last_error()))
            moebius_close(opened)
            throw error
        }
        engine = opened
        self.info = info
        imageSize = Int(info.image_size)
        latentCount = Int(info.latent_channels * info.latent_size * info.latent_size)
        steps = Int(info.steps)
        precision = String(cString: info.precision)
    }

    deinit { moebius_close(engine) }

    /// RGBA bytes (imageSize² × 4) and a mask (imageSize² bytes, ≥ 128 = fill) → RGBA bytes, in one C ABI call.
    public func inpaint(rgba: [UInt8], mask: [UInt8], seed: UInt64 = 0, noise: [Float]? = nil) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rgba.count)
        let side = Int32(imageSize)
        let status: moebius_status = out.withUnsafeMutableBufferPointer { output in
            rgba.withUnsafeBufferPointer { image in
                mask.withUnsafeBufferPointer { hole in
                    if let noise = noise {
                        return noise.withUnsafeBufferPointer { values in
                            moebius_inpaint(engine, image.baseAddress, image.count, side, side, hole.baseAddress, hole.count,
                                            values.baseAddress, values.count, seed, output.baseAddress, output.count)
                        }
                    }
                    return moebius_inpaint(engine, image.baseAddress, image.count, side, side, hole.baseAddress, hole.count,
                                           nil, 0, seed, output.baseAddress, output.count)
                }
            }
        }
        try MoebiusEdgeError.check(status)
        return out
    }

    /// The same picture as `inpaint(rgba:mask:seed:noise:)`, driven from here through encode, step and decode,
    /// calling `onStep(step done, steps, its milliseconds)` after every step (a progress bar; throw to cancel).
    public func inpaintStepByStep(rgba: [UInt8], mask: [UInt8], seed: UInt64 = 0, noise: [Float]? = nil,
                                  onStep: (Int, Int, Double) throws -> Void) throws -> [UInt8] {
        let pixels = imageSize * imageSize
        guard rgba.count >= pixels * 4, mask.count >= pixels else {
            // The C ABI's own message for the short array (this loop reads the arrays before any C call).
            let (name, count, needed) = rgba.count < pixels * 4 ? ("rgba", rgba.count, pixels * 4) : ("mask", mask.count, pixels)
            throw MoebiusEdgeError(status: MOEBIUS_ERROR_INVALID_ARGUMENT, message: "\(name) has \(count) bytes, this call needs \(needed)")
        }
        if !mask.prefix(pixels).contains(where: { $0 >= 128 }) {  // nothing to fill: the input, opaque (as the C ABI does)
            var out = Array(rgba.prefix(pixels * 4))
            for p in 0..<pixels { out[4 * p + 3] = 255 }
            return out
        }
        var image = [Float](repeating: 0, count: 3 * pixels)
        for p in 0..<pixels {
            for c in 0..<3 { image[c * pixels + p] = Float(rgba[4 * p + c]) / 255 * 2 - 1 }
        }
        let holeTensor = mask.prefix(pixels).map { $0 >= 128 ? Float(1) : Float(0) }
        let encoded = try encode(image: image, mask: holeTensor)
        var x = try startLatents(encoded: encoded, noise: noise ?? MoebiusEdge.seededNoise(seed: seed, count: latentCount))
        for i in 0..<steps {
            let started = DispatchTime.now().uptimeNanoseconds
            x = try step(x: x, encoded: encoded, index: i)
            try onStep(i + 1, steps, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
        }
        let decoded = try decode(x: x)
        var generated = [UInt8](repeating: 255, count: 4 * pixels)
        for p in 0..<pixels {
            for c in 0..<3 { generated[4 * p + c] = UInt8(min(max(decoded[c * pixels + p], 0), 1) * 255) }
        }
        return try MoebiusEdge.pasteHole(original: rgba, generated: generated, mask: mask, width: imageSize, height: imageSize)
    }

    /// image: [1,3,S,S] in [-1,1]; mask: [1,1,S,S] in {0,1}.
    public func encode(image: [Float], mask: [Float]) throws -> Encoded {
        var masked = [Float](repeating: 0, count: latentCount)
        var maskLatent = [Float](repeating: 0, count: Int(info.latent_size * info.latent_size))
        var clean: [Float]? = info.strength < 1 ? [Float](repeating: 0, count: latentCount) : nil
        let status: moebius_status = image.withUnsafeBufferPointer { imageValues in
            mask.withUnsafeBufferPointer { maskValues in
                masked.withUnsafeMutableBufferPointer { maskedOut in
                    maskLatent.withUnsafeMutableBufferPointer { maskLatentOut in
                        if clean != nil {
                            return clean!.withUnsafeMutableBufferPointer { cleanOut in
                                moebius_encode(engine, imageValues.baseAddress, imageValues.count, maskValues.baseAddress, maskValues.count,
                                               maskedOut.baseAddress, maskedOut.count, maskLatentOut.baseAddress, maskLatentOut.count,
                                               cleanOut.baseAddress, cleanOut.count)
                            }
                        }
                        return moebius_encode(engine, imageValues.baseAddress, imageValues.count, maskValues.baseAddress, maskValues.count,
                                              maskedOut.baseAddress, maskedOut.count, maskLatentOut.baseAddress, maskLatentOut.count, nil, 0)
                    }
                }
            }
        }
        try MoebiusEdgeError.check(status)
        return Encoded(maskedLatents: masked, maskLatent: maskLatent, cleanLatents: clean)
    }

    /// The loop's first x: the noise, or mixed with the clean latents when strength < 1 (as the C ABI's inpaint does).
    public func startLatents(encoded: Encoded, noise: [Float]) throws -> [Float] {
        guard noise.count == latentCount else {
            throw MoebiusEdgeError(status: MOEBIUS_ERROR_INVALID_ARGUMENT, message: "noise has \(noise.count) values, the model needs \(latentCount)")
        }
        guard let clean = encoded.cleanLatents else { return noise }
        return (0..<clean.count).map { info.start_signal * clean[$0] + info.start_noise * noise[$0] }
    }

    /// One denoising step, `index` in [0, steps): the next x.
    public func step(x: [Float], encoded: Encoded, index: Int) throws -> [Float] {
        var next = [Float](repeating: 0, count: latentCount)
        let status: moebius_status = x.withUnsafeBufferPointer { current in
            encoded.maskedLatents.withUnsafeBufferPointer { masked in
                encoded.maskLatent.withUnsafeBufferPointer { hole in
                    next.withUnsafeMutableBufferPointer { out in
                        moebius_step(engine, current.baseAddress, current.count, masked.baseAddress, masked.count, hole.baseAddress,
                                     hole.count, Int64(index), out.baseAddress, out.count)
                    }
                }
            }
        }
        try MoebiusEdgeError.check(status)
        return next
    }

    /// x → image [1,3,S,S] in [0,1].
    public func decode(x: [Float]) throws -> [Float] {
        var image = [Float](repeating: 0, count: 3 * imageSize * imageSize)
        let status: moebius_status = x.withUnsafeBufferPointer { latents in
            image.withUnsafeMutableBufferPointer { out in
                moebius_decode(engine, latents.baseAddress, latents.count, out.baseAddress, out.count)
            }
        }
        try MoebiusEdgeError.check(status)
        return image
    }

    /// A CGImage of the model's size and a mask → the filled CGImage.
    public func inpaint(image: CGImage, mask: [UInt8], seed: UInt64 = 0) throws -> CGImage {
        guard image.width == imageSize, image.height == imageSize else {
            throw MoebiusEdgeError(status: MOEBIUS_ERROR_IMAGE_SIZE,
                                   message: "image is \(image.width)x\(image.height), the bundle runs at \(imageSize)x\(imageSize)")
        }
        let filled = try inpaint(rgba: Self.rgbaBytes(of: image), mask: mask, seed: seed)
        return Self.image(fromRGBA: filled, side: imageSize)
    }

    /// Of the last `inpaint(rgba:mask:seed:noise:)`.
    public func timings() throws -> moebius_timings {
        var timings = moebius_timings()
        try MoebiusEdgeError.check(moebius_get_timings(engine, &timings))
        return timings
    }

    /// Each step's milliseconds in the last `inpaint(rgba:mask:seed:noise:)`.
    public func stepTimes() throws -> [Double] {
        var count = 0
        try MoebiusEdgeError.check(moebius_get_step_times(engine, nil, 0, &count))
        var times = [Double](repeating: 0, count: count)
        try times.withUnsafeMutableBufferPointer { out in
            try MoebiusEdgeError.check(moebius_get_step_times(engine, out.baseAddress, out.count, &count))
        }
        return times
    }

    /// The runtime's seeded standard-normal noise (the same numbers on every platform; not torch's).
    public static func seededNoise(seed: UInt64, count: Int) throws -> [Float] {
        var noise = [Float](repeating: 0, count: count)
        try noise.withUnsafeMutableBufferPointer { out in
            try MoebiusEdgeError.check(moebius_seeded_noise(seed, out.baseAddress, out.count))
        }
        return noise
    }

    /// Blends `generated` into `original` through the blurred hole (mask ≥ 128), exactly as the Python SDK does.
    public static func pasteHole(original: [UInt8], generated: [UInt8], mask: [UInt8], width: Int, height: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: original.count)
        let status: moebius_status = original.withUnsafeBufferPointer { before in
            generated.withUnsafeBufferPointer { filled in
                mask.withUnsafeBufferPointer { hole in
                    out.withUnsafeMutableBufferPointer { output in
                        moebius_paste_hole(before.baseAddress, before.count, filled.baseAddress, filled.count, hole.baseAddress, hole.count,
                                           Int32(width), Int32(height), output.baseAddress, output.count)
                    }
                }
            }
        }
        try MoebiusEdgeError.check(status)
        return out
    }

    private static func rgbaBytes(of image: CGImage) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: image.width * image.height * 4)
        let space = CGColorSpaceCreateDeviceRGB()
        bytes.withUnsafeMutableBytes { buffer in
            let context = CGContext(data: buffer.baseAddress, width: image.width, height: image.height, bitsPerComponent: 8,
                                    bytesPerRow: image.width * 4, space: space,
                                    bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue)!
            context.draw(image, in: CGRect(x: 0, y: 0, width: image.width, height: image.height))
        }
        return bytes
    }

    private static func image(fromRGBA bytes: [UInt8], side: Int) -> CGImage {
        let provider = CGDataProvider(data: Data(bytes) as CFData)!
        return CGImage(width: side, height: side, bitsPerComponent: 8, bitsPerPixel: 32, bytesPerRow: side * 4,
                       space: CGColorSpaceCreateDeviceRGB(), bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.noneSkipLast.rawValue),
                       provider: provider, decode: nil, shouldInterpolate: false, intent: .defaultIntent)!
    }
}
