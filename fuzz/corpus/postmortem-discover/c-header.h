#pragma once
#include <c10/macros/Macros.h>
// WARNING: this header is included by every extension
#define C10_THROW_ERROR(err_type, msg) throw ::c10::err_type(msg)
namespace c10 {
enum class ErrorKind { INFO, WARNING, ERROR };
}
