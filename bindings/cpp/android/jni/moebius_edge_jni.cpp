// JNI glue between the Kotlin core (ai.moebius.edge.MoebiusEdge; natives in MoebiusEdgeKt) and the C ABI.
// Built into libmoebius_edge_jni by -DMOEBIUS_BUILD_JNI=ON: against the NDK's jni.h for Android, against a
// desktop JDK's for the host JVM test (tests/test_bindings_kotlin.py).
//
// Every array goes to the C ABI with its length, so a wrong-length array is the C ABI's INVALID_ARGUMENT with
// its message; a failed call throws MoebiusEdgeException(code, status name, message) and returns.
#include <jni.h>

#include <cstdint>

#include "moebius_edge.h"

namespace {

void throw_status(JNIEnv* env, moebius_status status) {
  jclass type = env->FindClass("ai/moebius/edge/MoebiusEdgeException");
  if (type == nullptr) return;  // NoClassDefFoundError is pending
  jmethodID init = env->GetMethodID(type, "<init>", "(ILjava/lang/String;Ljava/lang/String;)V");
  jstring name = env->NewStringUTF(moebius_status_name(status));
  jstring message = env->NewStringUTF(moebius_last_error());
  jobject error = env->NewObject(type, init, static_cast<jint>(status), name, message);
  if (error != nullptr) env->Throw(static_cast<jthrowable>(error));
}

// Throws for a failed status; true when the call succeeded.
bool succeeded(JNIEnv* env, moebius_status status) {
  if (status == MOEBIUS_OK) return true;
  throw_status(env, status);
  return false;
}

moebius_engine* engine_of(jlong handle) { return reinterpret_cast<moebius_engine*>(handle); }

// Get/Release<Type>ArrayElements by overload (not the Critical variants: an inpaint takes seconds, too long to
// hold the garbage collector off).
jbyte* acquire(JNIEnv* env, jbyteArray array) { return env->GetByteArrayElements(array, nullptr); }
jfloat* acquire(JNIEnv* env, jfloatArray array) { return env->GetFloatArrayElements(array, nullptr); }
jdouble* acquire(JNIEnv* env, jdoubleArray array) { return env->GetDoubleArrayElements(array, nullptr); }
void release(JNIEnv* env, jbyteArray array, jbyte* data, jint mode) { env->ReleaseByteArrayElements(array, data, mode); }
void release(JNIEnv* env, jfloatArray array, jfloat* data, jint mode) { env->ReleaseFloatArrayElements(array, data, mode); }
void release(JNIEnv* env, jdoubleArray array, jdouble* data, jint mode) { env->ReleaseDoubleArrayElements(array, data, mode); }

// A Java primitive array's elements for the length of a native call: null stays null (the C ABI names it),
// outputs are copied back on release, inputs are not.
template <typename ArrayType, typename JavaElement, typename Element>
class Elements {
 public:
  Elements(JNIEnv* env, ArrayType array, bool output) : env_(env), array_(array), output_(output) {
    if (array_ != nullptr) {
      size_ = static_cast<size_t>(env_->GetArrayLength(array_));
      data_ = acquire(env_, array_);
    }
  }
  ~Elements() {
    if (data_ != nullptr) release(env_, array_, data_, output_ ? 0 : JNI_ABORT);
  }
  Elements(const Elements&) = delete;
  Elements& operator=(const Elements&) = delete;

  Element* data() const { return reinterpret_cast<Element*>(data_); }
  size_t size() const { return size_; }

 private:
  JNIEnv* env_;
  ArrayType array_;
  bool output_;
  JavaElement* data_ = nullptr;
  size_t size_ = 0;
};

using Bytes = Elements<jbyteArray, jbyte, uint8_t>;
using Floats = Elements<jfloatArray, jfloat, float>;
using Doubles = Elements<jdoubleArray, jdouble, double>;

}  // namespace

extern "C" {

JNIEXPORT jint JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeAbiVersion(JNIEnv*, jclass) { return moebius_abi_version(); }

JNIEXPORT jlong JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeOpen(JNIEnv* env, jclass, jstring bundle_dir, jint flags) {
  const char* dir = bundle_dir == nullptr ? nullptr : env->GetStringUTFChars(bundle_dir, nullptr);
  moebius_engine* engine = nullptr;
  moebius_status status = moebius_open(dir, static_cast<uint32_t>(flags), &engine);
  if (dir != nullptr) env->ReleaseStringUTFChars(bundle_dir, dir);
  return succeeded(env, status) ? reinterpret_cast<jlong>(engine) : 0;
}

JNIEXPORT void JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeClose(JNIEnv*, jclass, jlong handle) { moebius_close(engine_of(handle)); }

// A BundleInfo(imageSize, latentSize, latentChannels, steps, strength, guidanceScale, backend, precision, model,
// startSignal, startNoise).
JNIEXPORT jobject JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeInfo(JNIEnv* env, jclass, jlong handle) {
  moebius_info info{};
  info.struct_size = sizeof(info);
  if (!succeeded(env, moebius_get_info(engine_of(handle), &info))) return nullptr;
  jclass type = env->FindClass("ai/moebius/edge/BundleInfo");
  if (type == nullptr) return nullptr;
  jmethodID init = env->GetMethodID(type, "<init>", "(IIIIFFLjava/lang/String;Ljava/lang/String;Ljava/lang/String;FF)V");
  return env->NewObject(type, init, info.image_size, info.latent_size, info.latent_channels, info.steps, info.strength,
                        info.guidance_scale, env->NewStringUTF(info.backend), env->NewStringUTF(info.precision),
                        env->NewStringUTF(info.model), info.start_signal, info.start_noise);
}

JNIEXPORT jbyteArray JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeInpaint(JNIEnv* env, jclass, jlong handle, jbyteArray rgba,
                                                                         jint width, jint height, jbyteArray mask,
                                                                         jfloatArray noise, jlong seed) {
  // The output is as long as the input: a short rgba is then reported by the C ABI, not allocated around.
  jbyteArray result = env->NewByteArray(rgba == nullptr ? 0 : env->GetArrayLength(rgba));
  if (result == nullptr) return nullptr;  // OutOfMemoryError is pending
  moebius_status status;
  {
    Bytes pixels(env, rgba, false), hole(env, mask, false), out(env, result, true);
    Floats values(env, noise, false);
    status = moebius_inpaint(engine_of(handle), pixels.data(), pixels.size(), width, height, hole.data(), hole.size(), values.data(),
                             values.size(), static_cast<uint64_t>(seed), out.data(), out.size());
  }
  return succeeded(env, status) ? result : nullptr;
}

JNIEXPORT void JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeEncode(JNIEnv* env, jclass, jlong handle, jfloatArray image,
                                                                  jfloatArray mask, jfloatArray out_masked_latents,
                                                                  jfloatArray out_mask_latent, jfloatArray out_clean_latents) {
  moebius_status status;
  {
    Floats pixels(env, image, false), hole(env, mask, false), masked(env, out_masked_latents, true);
    Floats mask_latent(env, out_mask_latent, true), clean(env, out_clean_latents, true);
    status = moebius_encode(engine_of(handle), pixels.data(), pixels.size(), hole.data(), hole.size(), masked.data(), masked.size(),
                            mask_latent.data(), mask_latent.size(), clean.data(), clean.size());
  }
  succeeded(env, status);
}

JNIEXPORT void JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeStep(JNIEnv* env, jclass, jlong handle, jfloatArray x,
                                                                jfloatArray masked_latents, jfloatArray mask_latent, jint index,
                                                                jfloatArray out_x) {
  moebius_status status;
  {
    Floats current(env, x, false), masked(env, masked_latents, false), hole(env, mask_latent, false), next(env, out_x, true);
    status = moebius_step(engine_of(handle), current.data(), current.size(), masked.data(), masked.size(), hole.data(), hole.size(),
                          index, next.data(), next.size());
  }
  succeeded(env, status);
}

JNIEXPORT void JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeDecode(JNIEnv* env, jclass, jlong handle, jfloatArray x,
                                                                  jfloatArray out_image) {
  moebius_status status;
  {
    Floats latents(env, x, false), image(env, out_image, true);
    status = moebius_decode(engine_of(handle), latents.data(), latents.size(), image.data(), image.size());
  }
  succeeded(env, status);
}

JNIEXPORT void JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativePasteHole(JNIEnv* env, jclass, jbyteArray original,
                                                                     jbyteArray generated, jbyteArray mask, jint width,
                                                                     jint height, jbyteArray out_rgba) {
  moebius_status status;
  {
    Bytes before(env, original, false), filled(env, generated, false), hole(env, mask, false), out(env, out_rgba, true);
    status = moebius_paste_hole(before.data(), before.size(), filled.data(), filled.size(), hole.data(), hole.size(), width, height,
                                out.data(), out.size());
  }
  succeeded(env, status);
}

JNIEXPORT void JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeSeededNoise(JNIEnv* env, jclass, jlong seed, jfloatArray out) {
  moebius_status status;
  {
    Floats values(env, out, true);
    status = moebius_seeded_noise(static_cast<uint64_t>(seed), values.data(), values.size());
  }
  succeeded(env, status);
}

// A Timings(openMs, encodeMs, denoiseMs, stepMinMs, stepMeanMs, stepMaxMs, decodeMs, pasteMs, totalMs, steps).
JNIEXPORT jobject JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeTimings(JNIEnv* env, jclass, jlong handle) {
  moebius_timings t{};
  if (!succeeded(env, moebius_get_timings(engine_of(handle), &t))) return nullptr;
  jclass type = env->FindClass("ai/moebius/edge/Timings");
  if (type == nullptr) return nullptr;
  jmethodID init = env->GetMethodID(type, "<init>", "(DDDDDDDDDI)V");
  return env->NewObject(type, init, t.open_ms, t.encode_ms, t.denoise_ms, t.step_min_ms, t.step_mean_ms, t.step_max_ms, t.decode_ms,
                        t.paste_ms, t.total_ms, t.steps);
}

JNIEXPORT jdoubleArray JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeStepTimes(JNIEnv* env, jclass, jlong handle) {
  size_t count = 0;
  if (!succeeded(env, moebius_get_step_times(engine_of(handle), nullptr, 0, &count))) return nullptr;
  jdoubleArray result = env->NewDoubleArray(static_cast<jsize>(count));
  if (result == nullptr) return nullptr;
  moebius_status status;
  {
    Doubles times(env, result, true);
    status = moebius_get_step_times(engine_of(handle), times.data(), times.size(), &count);
  }
  return succeeded(env, status) ? result : nullptr;
}

}  // extern "C"
