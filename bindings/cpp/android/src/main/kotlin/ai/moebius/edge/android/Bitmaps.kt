// The Android adapter: Bitmap in and out over the JDK-only core (../MoebiusEdge.kt).
// Compiled only by the Android build (build.gradle.kts); android.graphics is not on a desktop JVM, so the host
// test (tests/test_bindings_kotlin.py) covers the core and not this file.
package ai.moebius.edge.android

import ai.moebius.edge.MoebiusEdge
import android.graphics.Bitmap
import java.nio.ByteBuffer

/** An ARGB_8888 bitmap's bytes in memory order R, G, B, A (the C ABI's RGBA). */
fun Bitmap.rgbaBytes(): ByteArray {
    val buffer = ByteBuffer.allocate(width * height * 4)
    val source = if (config == Bitmap.Config.ARGB_8888) this else copy(Bitmap.Config.ARGB_8888, false)
    source.copyPixelsToBuffer(buffer)
    return buffer.array()
}

fun bitmapFromRgba(rgba: ByteArray, width: Int, height: Int): Bitmap {
    val bitmap = Bitmap.createBitmap(width, height, Bitmap.Config.ARGB_8888)
    bitmap.copyPixelsFromBuffer(ByteBuffer.wrap(rgba))
    return bitmap
}

/** Fills the hole of [image] (imageSize × imageSize); [mask] has one byte per pixel, >= 128 = fill. */
fun MoebiusEdge.inpaint(image: Bitmap, mask: ByteArray, seed: Long = 0, noise: FloatArray? = null): Bitmap =
    bitmapFromRgba(inpaint(image.rgbaBytes(), image.width, image.height, mask, seed, noise), image.width, image.height)

/** As [inpaint], calling [onStep] (step done, steps, its milliseconds) after every denoising step. */
fun MoebiusEdge.inpaintStepByStep(
    image: Bitmap, mask: ByteArray, seed: Long = 0, noise: FloatArray? = null,
    onStep: (step: Int, steps: Int, stepMs: Double) -> Unit
): Bitmap = bitmapFromRgba(
    inpaintStepByStep(image.rgbaBytes(), image.width, image.height, mask, seed, noise, onStep), image.width, image.height
)
