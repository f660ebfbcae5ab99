// Swift wrapper over the C ABI (include/moebius_edge.h) for iOS/macOS apps.
// NOT BUILT IN CI: there is no Apple toolchain on the project's machines; this is a documented starting point.
//
// It runs Core ML bundles exported as `moebius-edge export --backend executorch-coreml` (three .pte files whose
// graphs are delegated to Core ML) through libmoebius_edge built against an Apple build of ExecuTorch with its
// Core ML backend linked in (see bindings/cpp/README.md); plain `executorch` (XNNPACK) bundles run the same way.
//
//   let engine = try MoebiusEdge(bundle: Bundle.main.url(forResource: "tiny-coreml", withExtension: nil)!)
//   let filled = try engine.inpaint(image: photo, mask: maskBytes, seed: 0)
//   print(engine.timings.step_mean_ms)
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

/// An opened bundle. Not thread-safe: use one instance per thread (or a serial queue), off the main thread.
public final class MoebiusEdge {
    private let engine: OpaquePointer
    public let imageSize: Int
    public let latentCount: Int
    public let steps: Int
    public let precision: String

    public init(bundle: URL, verifyChecksums: Bool = true) throws {
        var handle: OpaquePointer?
        let flags = verifyChecksums ? MOEBIUS_OPEN_DEFAULT : MOEBIUS_OPEN_SKIP_CHECKSUMS
        try MoebiusEdgeError.check(moebius_open(bundle.path, UInt32(flags), &handle))
        engine = handle!
        var info = moebius_info()
        try MoebiusEdgeError.check(moebius_get_info(engine, &info))
        imageSize = Int(info.image_size)
        latentCount = Int(info.latent_channels * info.latent_size * info.latent_size)
        steps = Int(info.steps)
        precision = String(cString: info.precision)
    }

    deinit { moebius_close(engine) }

    /// RGBA bytes (imageSize² × 4) and a mask (imageSize² bytes, ≥ 128 = fill) → RGBA bytes.
    public func inpaint(rgba: [UInt8], mask: [UInt8], seed: UInt64 = 0, noise: [Float]? = nil) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: rgba.count)
        let side = Int32(imageSize)
        let status: moebius_status = out.withUnsafeMutableBufferPointer { output in
            rgba.withUnsafeBufferPointer { image in
                mask.withUnsafeBufferPointer { hole in
                    if let noise = noise {
                        return noise.withUnsafeBufferPointer { values in
                            moebius_inpaint(engine, image.baseAddress, side, side, hole.baseAddress, values.baseAddress,
                                            values.count, seed, output.baseAddress)
                        }
                    }
                    return moebius_inpaint(engine, image.baseAddress, side, side, hole.baseAddress, nil, 0, seed, output.baseAddress)
                }
            }
        }
        try MoebiusEdgeError.check(status)
        return out
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

    public var timings: moebius_timings {
        var timings = moebius_timings()
        _ = moebius_get_timings(engine, &timings)
        return timings
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
