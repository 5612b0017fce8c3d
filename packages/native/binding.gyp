{
  "targets": [
    {
      "target_name": "valkka_native",
      "sources": [
        "src/addon/addon.cc",
        "src/addon/errors.cc",
        "src/addon/io.cc",
        "src/addon/aligned.cc",
        "src/addon/locks.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "_GNU_SOURCE", "_FILE_OFFSET_BITS=64"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
