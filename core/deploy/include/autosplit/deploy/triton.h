// The cloud half of an exported plan as an NVIDIA Triton model repository
// (`autosplit export --triton REPO`):
//   REPO/NAME/config.pbtxt   platform "onnxruntime_onnx", max_batch_size 0 (the export binds the
//                            batch to the plan's shapes: no batch dimension to batch over, so no
//                            dynamic batching), inputs / outputs with Triton data types and full
//                            dims, one CPU instance group (edit `kind` / `count` for GPUs)
//   REPO/NAME/1/model.onnx   cloud.onnx with the unpacking of the b-bit codes inside the graph:
//                            each transmitted tensor arrives as "NAME.packed", uint8 [bytes], the
//                            frame payload as edge-run packs it (deploy/packing.h: least-significant
//                            bits first), and is unpacked with integer ops valid at opset <= 17
//                            (Concat, Reshape, Cast, Mul, ReduceSum, Div, Mod, Slice): groups of
//                            lcm(b, 8) bits as one int64, codes = (word / 2^(b k)) mod 2^b.
// Float32 / Int64 tensors keep their names, types and shapes.
#pragma once

#include <string>

namespace autosplit::deploy {

struct TritonRepository {
    std::string modelDir;   // REPO/NAME
    std::string config;     // the config.pbtxt text written
};

// Writes the repository from an export directory (manifest.json + cloud.onnx); `name` defaults
// to "autosplit_cloud_<plan hash>". The model passes the ONNX checker before anything is written.
// Throws Error naming the problem (an Edge-Only export has no cloud half).
TritonRepository writeTritonRepository(const std::string& exportDir, const std::string& repoDir, std::string name = {});

}  // namespace autosplit::deploy
