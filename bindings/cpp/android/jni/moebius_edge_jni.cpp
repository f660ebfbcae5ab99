// JNI glue between the Kotlin wrapper (ai.moebius.edge.MoebiusEdge, natives in MoebiusEdgeKt) and the C ABI.
// NOT BUILT IN CI: there is no Android SDK/NDK on the project's machines. Build it into libmoebius_edge.so with
// -DMOEBIUS_BUILD_JNI=ON in an NDK build (see bindings/cpp/README.md).
#include <jni.h>

#include <string>
#include <vector>

#include "moebius_edge.h"

namespace {

// Throws ai.moebius.edge.MoebiusEdgeException(code, message) and returns, so callers can `return` right after.
void throw_status(JNIEnv* env, moebius_status status) {
  jclass type = env->FindClass("ai/moebius/edge/MoebiusEdgeException");
  jmethodID init = env->GetMethodID(type, "<init>", "(ILjava/lang/String;)V");
  std::string message = std::string(moebius_status_name(status)) + ": " + moebius_last_error();
  jobject error = env->NewObject(type, init, static_cast<jint>(status), env->NewStringUTF(message.c_str()));
  env->Throw(static_cast<jthrowable>(error));
}

moebius_engine* engine_of(jlong handle) { return reinterpret_cast<moebius_engine*>(handle); }

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeOpen(JNIEnv* env, jclass, jstring bundle_dir, jint flags) {
  const char* dir = env->GetStringUTFChars(bundle_dir, nullptr);
  moebius_engine* engine = nullptr;
  moebius_status status = moebius_open(dir, static_cast<uint32_t>(flags), &engine);
  env->ReleaseStringUTFChars(bundle_dir, dir);
  if (status != MOEBIUS_OK) {
    throw_status(env, status);
    return 0;
  }
  return reinterpret_cast<jlong>(engine);
}

JNIEXPORT void JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeClose(JNIEnv*, jclass, jlong handle) { moebius_close(engine_of(handle)); }

// Returns {image_size, latent_size, latent_channels, steps}.
JNIEXPORT jintArray JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeInfo(JNIEnv* env, jclass, jlong handle) {
  moebius_info info;
  moebius_status status = moebius_get_info(engine_of(handle), &info);
  if (status != MOEBIUS_OK) {
    throw_status(env, status);
    return nullptr;
  }
  jint values[4] = {info.image_size, info.latent_size, info.latent_channels, info.steps};
  jintArray out = env->NewIntArray(4);
  env->SetIntArrayRegion(out, 0, 4, values);
  return out;
}

// rgba: width*height*4 bytes (Bitmap ARGB_8888 memory order is R,G,B,A); mask: width*height bytes; noise may be null.
JNIEXPORT jbyteArray JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeInpaint(JNIEnv* env, jclass, jlong handle, jbyteArray rgba,
                                                                         jint width, jint height, jbyteArray mask,
                                                                         jfloatArray noise, jlong seed) {
  std::vector<uint8_t> pixels(static_cast<size_t>(env->GetArrayLength(rgba)));
  std::vector<uint8_t> hole(static_cast<size_t>(env->GetArrayLength(mask)));
  if (pixels.size() != static_cast<size_t>(width) * height * 4 || hole.size() != static_cast<size_t>(width) * height) {
    moebius_inpaint(engine_of(handle), nullptr, width, height, nullptr, nullptr, 0, 0, nullptr);  // sets the message
    throw_status(env, MOEBIUS_ERROR_INVALID_ARGUMENT);
    return nullptr;
  }
  env->GetByteArrayRegion(rgba, 0, static_cast<jsize>(pixels.size()), reinterpret_cast<jbyte*>(pixels.data()));
  env->GetByteArrayRegion(mask, 0, static_cast<jsize>(hole.size()), reinterpret_cast<jbyte*>(hole.data()));
  std::vector<float> noise_values;
  if (noise != nullptr) {
    noise_values.resize(static_cast<size_t>(env->GetArrayLength(noise)));
    env->GetFloatArrayRegion(noise, 0, static_cast<jsize>(noise_values.size()), noise_values.data());
  }
  std::vector<uint8_t> out(pixels.size());
  moebius_status status = moebius_inpaint(engine_of(handle), pixels.data(), width, height, hole.data(),
                                          noise == nullptr ? nullptr : noise_values.data(), noise_values.size(),
                                          static_cast<uint64_t>(seed), out.data());
  if (status != MOEBIUS_OK) {
    throw_status(env, status);
    return nullptr;
  }
  jbyteArray result = env->NewByteArray(static_cast<jsize>(out.size()));
  env->SetByteArrayRegion(result, 0, static_cast<jsize>(out.size()), reinterpret_cast<const jbyte*>(out.data()));
  return result;
}

// Returns {open, encode, denoise, step_mean, decode, paste, total} in milliseconds.
JNIEXPORT jdoubleArray JNICALL Java_ai_moebius_edge_MoebiusEdgeKt_nativeTimings(JNIEnv* env, jclass, jlong handle) {
  moebius_timings t;
  moebius_status status = moebius_get_timings(engine_of(handle), &t);
  if (status != MOEBIUS_OK) {
    throw_status(env, status);
    return nullptr;
  }
  jdouble values[7] = {t.open_ms, t.encode_ms, t.denoise_ms, t.step_mean_ms, t.decode_ms, t.paste_ms, t.total_ms};
  jdoubleArray out = env->NewDoubleArray(7);
  env->SetDoubleArrayRegion(out, 0, 7, values);
  return out;
}

}  // extern "C"
