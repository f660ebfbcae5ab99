// Kotlin wrapper over libmoebius_edge.so (the C ABI, through jni/moebius_edge_jni.cpp).
// NOT BUILT IN CI: there is no Android SDK here. It is a documented starting point for an app module.
package ai.moebius.edge

import android.graphics.Bitmap
import java.io.Closeable
import java.nio.ByteBuffer

/** A failure reported by the runtime; [code] is the C ABI's moebius_status (e.g. 2 = NOT_FOUND, 6 = IMAGE_SIZE). */
class MoebiusEdgeException(val code: Int, message: String) : Exception(message)

data class Timings(
    val openMs: Double, val encodeMs: Double, val denoiseMs: Double, val stepMeanMs: Double,
    val decodeMs: Double, val pasteMs: Double, val totalMs: Double,
)

/**
 * An opened ExecuTorch bundle (a folder copied to app storage: manifest.json + encode/step/decode .pte).
 *
 *   MoebiusEdge.open(File(filesDir, "tiny-int8").path).use { engine ->
 *       val filled = engine.inpaint(photo, maskBytes, seed = 0)
 *   }
 * Not thread-safe: use one instance per thread. Run it off the main thread (an inpaint takes seconds).
 */
class MoebiusEdge private constructor(private var handle: Long) : Closeable {
    val imageSize: Int
    val steps: Int

    init {
        val info = nativeInfo(handle)
        imageSize = info[0]
        steps = info[3]
    }

    /** Fills the hole of [image] (imageSize × imageSize, ARGB_8888); [mask] has one byte per pixel, ≥ 128 = fill. */
    fun inpaint(image: Bitmap, mask: ByteArray, seed: Long = 0, noise: FloatArray? = null): Bitmap {
        check(handle != 0L) { "engine is closed" }
        val rgba = ByteBuffer.allocate(image.width * image.height * 4)
        image.copy(Bitmap.Config.ARGB_8888, false).copyPixelsToBuffer(rgba)  // memory order R, G, B, A
        val out = nativeInpaint(handle, rgba.array(), image.width, image.height, mask, noise, seed)
        val result = Bitmap.createBitmap(image.width, image.height, Bitmap.Config.ARGB_8888)
        result.copyPixelsFromBuffer(ByteBuffer.wrap(out))
        return result
    }

    val timings: Timings
        get() = nativeTimings(handle).let { Timings(it[0], it[1], it[2], it[3], it[4], it[5], it[6]) }

    override fun close() {
        if (handle != 0L) nativeClose(handle)
        handle = 0L
    }

    companion object {
        init {
            System.loadLibrary("moebius_edge")
        }

        const val SKIP_CHECKSUMS = 1

        /** Opens a bundle folder; throws [MoebiusEdgeException] (not found, corrupt, unsupported…). */
        @JvmStatic
        fun open(bundleDir: String, flags: Int = 0): MoebiusEdge = MoebiusEdge(nativeOpen(bundleDir, flags))

    }
}

// Top-level natives compile to static methods of ai.moebius.edge.MoebiusEdgeKt, the names the JNI glue exports.
private external fun nativeOpen(bundleDir: String, flags: Int): Long
private external fun nativeClose(handle: Long)
private external fun nativeInfo(handle: Long): IntArray
private external fun nativeInpaint(
    handle: Long, rgba: ByteArray, width: Int, height: Int, mask: ByteArray, noise: FloatArray?, seed: Long,
): ByteArray
private external fun nativeTimings(handle: Long): DoubleArray
