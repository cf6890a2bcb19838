import protobuf from 'protobufjs';

/**
 * ONNX's protobuf schema (onnx.proto, proto2, IR version 11) as a protobufjs descriptor: message
 * and field names with their wire numbers. Fields this table does not list would be dropped on
 * re-encoding, so it covers every field of the messages a model file can hold, except the
 * IR 11 device-configuration messages (multi-device sharding, never in an inference export).
 */
const f = (id: number, type: string, rule?: 'repeated') => (rule ? { id, type, rule } : { id, type });
const ssEntries = (id: number) => f(id, 'StringStringEntryProto', 'repeated');

const descriptor = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: f(1, 'string'),
            ref_attr_name: f(21, 'string'),
            doc_string: f(13, 'string'),
            type: f(20, 'int32'),
            f: f(2, 'float'),
            i: f(3, 'int64'),
            s: f(4, 'bytes'),
            t: f(5, 'TensorProto'),
            g: f(6, 'GraphProto'),
            sparse_tensor: f(22, 'SparseTensorProto'),
            tp: f(14, 'TypeProto'),
            floats: f(7, 'float', 'repeated'),
            ints: f(8, 'int64', 'repeated'),
            strings: f(9, 'bytes', 'repeated'),
            tensors: f(10, 'TensorProto', 'repeated'),
            graphs: f(11, 'GraphProto', 'repeated'),
            sparse_tensors: f(23, 'SparseTensorProto', 'repeated'),
            type_protos: f(15, 'TypeProto', 'repeated'),
          },
        },
        ValueInfoProto: {
          fields: { name: f(1, 'string'), type: f(2, 'TypeProto'), doc_string: f(3, 'string'), metadata_props: ssEntries(4) },
        },
        NodeProto: {
          fields: {
            input: f(1, 'string', 'repeated'),
            output: f(2, 'string', 'repeated'),
            name: f(3, 'string'),
            op_type: f(4, 'string'),
            domain: f(7, 'string'),
            overload: f(8, 'string'),
            attribute: f(5, 'AttributeProto', 'repeated'),
            doc_string: f(6, 'string'),
            metadata_props: ssEntries(9),
          },
        },
        TrainingInfoProto: {
          fields: {
            initialization: f(1, 'GraphProto'),
            algorithm: f(2, 'GraphProto'),
            initialization_binding: ssEntries(3),
            update_binding: ssEntries(4),
          },
        },
        ModelProto: {
          fields: {
            ir_version: f(1, 'int64'),
            opset_import: f(8, 'OperatorSetIdProto', 'repeated'),
            producer_name: f(2, 'string'),
            producer_version: f(3, 'string'),
            domain: f(4, 'string'),
            model_version: f(5, 'int64'),
            doc_string: f(6, 'string'),
            graph: f(7, 'GraphProto'),
            metadata_props: ssEntries(14),
            training_info: f(20, 'TrainingInfoProto', 'repeated'),
            functions: f(25, 'FunctionProto', 'repeated'),
          },
        },
        StringStringEntryProto: { fields: { key: f(1, 'string'), value: f(2, 'string') } },
        TensorAnnotation: { fields: { tensor_name: f(1, 'string'), quant_parameter_tensor_names: ssEntries(2) } },
        GraphProto: {
          fields: {
            node: f(1, 'NodeProto', 'repeated'),
            name: f(2, 'string'),
            initializer: f(5, 'TensorProto', 'repeated'),
            sparse_initializer: f(15, 'SparseTensorProto', 'repeated'),
            doc_string: f(10, 'string'),
            input: f(11, 'ValueInfoProto', 'repeated'),
            output: f(12, 'ValueInfoProto', 'repeated'),
            value_info: f(13, 'ValueInfoProto', 'repeated'),
            quantization_annotation: f(14, 'TensorAnnotation', 'repeated'),
            metadata_props: ssEntries(16),
          },
        },
        TensorProto: {
          fields: {
            dims: f(1, 'int64', 'repeated'),
            data_type: f(2, 'int32'),
            segment: f(3, 'Segment'),
            float_data: { ...f(4, 'float', 'repeated'), options: { packed: true } },
            int32_data: { ...f(5, 'int32', 'repeated'), options: { packed: true } },
            string_data: f(6, 'bytes', 'repeated'),
            int64_data: { ...f(7, 'int64', 'repeated'), options: { packed: true } },
            name: f(8, 'string'),
            doc_string: f(12, 'string'),
            raw_data: f(9, 'bytes'),
            external_data: ssEntries(13),
            data_location: f(14, 'int32'),
            double_data: { ...f(10, 'double', 'repeated'), options: { packed: true } },
            uint64_data: { ...f(11, 'uint64', 'repeated'), options: { packed: true } },
            metadata_props: ssEntries(16),
          },
          nested: { Segment: { fields: { begin: f(1, 'int64'), end: f(2, 'int64') } } },
        },
        SparseTensorProto: { fields: { values: f(1, 'TensorProto'), indices: f(2, 'TensorProto'), dims: f(3, 'int64', 'repeated') } },
        TensorShapeProto: {
          fields: { dim: f(1, 'Dimension', 'repeated') },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
              fields: { dim_value: f(1, 'int64'), dim_param: f(2, 'string'), denotation: f(3, 'string') },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensor_type', 'sequence_type', 'map_type', 'optional_type', 'sparse_tensor_type', 'opaque_type'] } },
          fields: {
            tensor_type: f(1, 'Tensor'),
            sequence_type: f(4, 'Sequence'),
            map_type: f(5, 'Map'),
            optional_type: f(9, 'Optional'),
            sparse_tensor_type: f(8, 'SparseTensor'),
            opaque_type: f(7, 'Opaque'),
            denotation: f(6, 'string'),
          },
          nested: {
            Tensor: { fields: { elem_type: f(1, 'int32'), shape: f(2, 'TensorShapeProto') } },
            Sequence: { fields: { elem_type: f(1, 'TypeProto') } },
            Map: { fields: { key_type: f(1, 'int32'), value_type: f(2, 'TypeProto') } },
            Optional: { fields: { elem_type: f(1, 'TypeProto') } },
            SparseTensor: { fields: { elem_type: f(1, 'int32'), shape: f(2, 'TensorShapeProto') } },
            Opaque: { fields: { domain: f(1, 'string'), name: f(2, 'string') } },
          },
        },
        OperatorSetIdProto: { fields: { domain: f(1, 'string'), version: f(2, 'int64') } },
        FunctionProto: {
          fields: {
            name: f(1, 'string'),
            input: f(4, 'string', 'repeated'),
            output: f(5, 'string', 'repeated'),
            attribute: f(6, 'string', 'repeated'),
            attribute_proto: f(11, 'AttributeProto', 'repeated'),
            node: f(7, 'NodeProto', 'repeated'),
            doc_string: f(8, 'string'),
            opset_import: f(9, 'OperatorSetIdProto', 'repeated'),
            domain: f(10, 'string'),
            overload: f(13, 'string'),
            value_info: f(12, 'ValueInfoProto', 'repeated'),
            metadata_props: ssEntries(14),
          },
        },
      },
    },
  },
};

let root: protobuf.Root | undefined;

/** The ModelProto type (built once, on first use: nothing happens at import time). */
export function modelProtoType(): protobuf.Type {
  root ??= protobuf.Root.fromJSON(descriptor);
  return root.lookupType('onnx.ModelProto');
}
