// Internal result type: a moebius_status plus its one-line message.
#pragma once

#include <string>

#include "moebius_edge.h"

namespace moebius {

struct Status {
  moebius_status code = MOEBIUS_OK;
  std::string message;

  bool ok() const { return code == MOEBIUS_OK; }
  static Status Ok() { return {}; }
  static Status Error(moebius_status code, std::string message) { return {code, std::move(message)}; }
};

}  // namespace moebius
