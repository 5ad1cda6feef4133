package dev.quotasidecar.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Answers "may this call happen now, at this estimated cost?" and records what it really cost.
 * </pre>
 */
@javax.annotation.Generated(
    value = "by gRPC proto compiler",
    comments = "Source: quota_sidecar/v1/quota.proto")
@io.grpc.stub.annotations.GrpcGenerated
public final class QuotaServiceGrpc {

  private QuotaServiceGrpc() {}

  public static final String SERVICE_NAME = "quota_sidecar.v1.QuotaService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.CheckQuotaRequest,
      dev.quotasidecar.v1.CheckQuotaResponse> getCheckQuotaMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CheckQuota",
      requestType = dev.quotasidecar.v1.CheckQuotaRequest.class,
      responseType = dev.quotasidecar.v1.CheckQuotaResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.CheckQuotaRequest,
      dev.quotasidecar.v1.CheckQuotaResponse> getCheckQuotaMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.CheckQuotaRequest, dev.quotasidecar.v1.CheckQuotaResponse> getCheckQuotaMethod;
    if ((getCheckQuotaMethod = QuotaServiceGrpc.getCheckQuotaMethod) == null) {
      synchronized (QuotaServiceGrpc.class) {
        if ((getCheckQuotaMethod = QuotaServiceGrpc.getCheckQuotaMethod) == null) {
          QuotaServiceGrpc.getCheckQuotaMethod = getCheckQuotaMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.CheckQuotaRequest, dev.quotasidecar.v1.CheckQuotaResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CheckQuota"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.CheckQuotaRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.CheckQuotaResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaServiceMethodDescriptorSupplier("CheckQuota"))
              .build();
        }
      }
    }
    return getCheckQuotaMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.RecordUsageRequest,
      dev.quotasidecar.v1.RecordUsageResponse> getRecordUsageMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RecordUsage",
      requestType = dev.quotasidecar.v1.RecordUsageRequest.class,
      responseType = dev.quotasidecar.v1.RecordUsageResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.RecordUsageRequest,
      dev.quotasidecar.v1.RecordUsageResponse> getRecordUsageMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.RecordUsageRequest, dev.quotasidecar.v1.RecordUsageResponse> getRecordUsageMethod;
    if ((getRecordUsageMethod = QuotaServiceGrpc.getRecordUsageMethod) == null) {
      synchronized (QuotaServiceGrpc.class) {
        if ((getRecordUsageMethod = QuotaServiceGrpc.getRecordUsageMethod) == null) {
          QuotaServiceGrpc.getRecordUsageMethod = getRecordUsageMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.RecordUsageRequest, dev.quotasidecar.v1.RecordUsageResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RecordUsage"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.RecordUsageRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.RecordUsageResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaServiceMethodDescriptorSupplier("RecordUsage"))
              .build();
        }
      }
    }
    return getRecordUsageMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.GetUsageRequest,
      dev.quotasidecar.v1.GetUsageResponse> getGetUsageMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetUsage",
      requestType = dev.quotasidecar.v1.GetUsageRequest.class,
      responseType = dev.quotasidecar.v1.GetUsageResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.GetUsageRequest,
      dev.quotasidecar.v1.GetUsageResponse> getGetUsageMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.GetUsageRequest, dev.quotasidecar.v1.GetUsageResponse> getGetUsageMethod;
    if ((getGetUsageMethod = QuotaServiceGrpc.getGetUsageMethod) == null) {
      synchronized (QuotaServiceGrpc.class) {
        if ((getGetUsageMethod = QuotaServiceGrpc.getGetUsageMethod) == null) {
          QuotaServiceGrpc.getGetUsageMethod = getGetUsageMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.GetUsageRequest, dev.quotasidecar.v1.GetUsageResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetUsage"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.GetUsageRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.GetUsageResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaServiceMethodDescriptorSupplier("GetUsage"))
              .build();
        }
      }
    }
    return getGetUsageMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.StreamAlertsRequest,
      dev.quotasidecar.v1.StreamAlertsResponse> getStreamAlertsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamAlerts",
      requestType = dev.quotasidecar.v1.StreamAlertsRequest.class,
      responseType = dev.quotasidecar.v1.StreamAlertsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.StreamAlertsRequest,
      dev.quotasidecar.v1.StreamAlertsResponse> getStreamAlertsMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.StreamAlertsRequest, dev.quotasidecar.v1.StreamAlertsResponse> getStreamAlertsMethod;
    if ((getStreamAlertsMethod = QuotaServiceGrpc.getStreamAlertsMethod) == null) {
      synchronized (QuotaServiceGrpc.class) {
        if ((getStreamAlertsMethod = QuotaServiceGrpc.getStreamAlertsMethod) == null) {
          QuotaServiceGrpc.getStreamAlertsMethod = getStreamAlertsMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.StreamAlertsRequest, dev.quotasidecar.v1.StreamAlertsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamAlerts"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.StreamAlertsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.StreamAlertsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaServiceMethodDescriptorSupplier("StreamAlerts"))
              .build();
        }
      }
    }
    return getStreamAlertsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.EndRunRequest,
      dev.quotasidecar.v1.EndRunResponse> getEndRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "EndRun",
      requestType = dev.quotasidecar.v1.EndRunRequest.class,
      responseType = dev.quotasidecar.v1.EndRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.EndRunRequest,
      dev.quotasidecar.v1.EndRunResponse> getEndRunMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.EndRunRequest, dev.quotasidecar.v1.EndRunResponse> getEndRunMethod;
    if ((getEndRunMethod = QuotaServiceGrpc.getEndRunMethod) == null) {
      synchronized (QuotaServiceGrpc.class) {
        if ((getEndRunMethod = QuotaServiceGrpc.getEndRunMethod) == null) {
          QuotaServiceGrpc.getEndRunMethod = getEndRunMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.EndRunRequest, dev.quotasidecar.v1.EndRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "EndRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.EndRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.EndRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaServiceMethodDescriptorSupplier("EndRun"))
              .build();
        }
      }
    }
    return getEndRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.GetUsageHistoryRequest,
      dev.quotasidecar.v1.GetUsageHistoryResponse> getGetUsageHistoryMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetUsageHistory",
      requestType = dev.quotasidecar.v1.GetUsageHistoryRequest.class,
      responseType = dev.quotasidecar.v1.GetUsageHistoryResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.GetUsageHistoryRequest,
      dev.quotasidecar.v1.GetUsageHistoryResponse> getGetUsageHistoryMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.GetUsageHistoryRequest, dev.quotasidecar.v1.GetUsageHistoryResponse> getGetUsageHistoryMethod;
    if ((getGetUsageHistoryMethod = QuotaServiceGrpc.getGetUsageHistoryMethod) == null) {
      synchronized (QuotaServiceGrpc.class) {
        if ((getGetUsageHistoryMethod = QuotaServiceGrpc.getGetUsageHistoryMethod) == null) {
          QuotaServiceGrpc.getGetUsageHistoryMethod = getGetUsageHistoryMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.GetUsageHistoryRequest, dev.quotasidecar.v1.GetUsageHistoryResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetUsageHistory"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.GetUsageHistoryRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.GetUsageHistoryResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaServiceMethodDescriptorSupplier("GetUsageHistory"))
              .build();
        }
      }
    }
    return getGetUsageHistoryMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.ExtendReservationRequest,
      dev.quotasidecar.v1.ExtendReservationResponse> getExtendReservationMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ExtendReservation",
      requestType = dev.quotasidecar.v1.ExtendReservationRequest.class,
      responseType = dev.quotasidecar.v1.ExtendReservationResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.ExtendReservationRequest,
      dev.quotasidecar.v1.ExtendReservationResponse> getExtendReservationMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.ExtendReservationRequest, dev.quotasidecar.v1.ExtendReservationResponse> getExtendReservationMethod;
    if ((getExtendReservationMethod = QuotaServiceGrpc.getExtendReservationMethod) == null) {
      synchronized (QuotaServiceGrpc.class) {
        if ((getExtendReservationMethod = QuotaServiceGrpc.getExtendReservationMethod) == null) {
          QuotaServiceGrpc.getExtendReservationMethod = getExtendReservationMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.ExtendReservationRequest, dev.quotasidecar.v1.ExtendReservationResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ExtendReservation"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ExtendReservationRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ExtendReservationResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaServiceMethodDescriptorSupplier("ExtendReservation"))
              .build();
        }
      }
    }
    return getExtendReservationMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static QuotaServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<QuotaServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<QuotaServiceStub>() {
        @java.lang.Override
        public QuotaServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new QuotaServiceStub(channel, callOptions);
        }
      };
    return QuotaServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static QuotaServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<QuotaServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<QuotaServiceBlockingStub>() {
        @java.lang.Override
        public QuotaServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new QuotaServiceBlockingStub(channel, callOptions);
        }
      };
    return QuotaServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static QuotaServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<QuotaServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<QuotaServiceFutureStub>() {
        @java.lang.Override
        public QuotaServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new QuotaServiceFutureStub(channel, callOptions);
        }
      };
    return QuotaServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Answers "may this call happen now, at this estimated cost?" and records what it really cost.
   * </pre>
   */
  public static abstract class QuotaServiceImplBase implements io.grpc.BindableService {

    /**
     * <pre>
     * Checks every subject together. Either all allow and one request (plus the estimated tokens,
     * plus the estimated cost when reserve is set) is consumed in each, or nothing is consumed.
     * </pre>
     */
    public void checkQuota(dev.quotasidecar.v1.CheckQuotaRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.CheckQuotaResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCheckQuotaMethod(), responseObserver);
    }

    /**
     * <pre>
     * Records the actual cost and tokens of a call, settling its reservation if one is given.
     * Idempotent per idempotency_key for 24 hours.
     * </pre>
     */
    public void recordUsage(dev.quotasidecar.v1.RecordUsageRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.RecordUsageResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRecordUsageMethod(), responseObserver);
    }

    /**
     * <pre>
     * Reads one subject's usage, limits, remaining amounts, reset times and cost breakdown.
     * </pre>
     */
    public void getUsage(dev.quotasidecar.v1.GetUsageRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GetUsageResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetUsageMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams alerts raised on any replica: an optional replay from a cursor, then live alerts.
     * </pre>
     */
    public void streamAlerts(dev.quotasidecar.v1.StreamAlertsRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.StreamAlertsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStreamAlertsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Ends a run (see CheckQuotaRequest.run_id) before its time to live: every reservation open
     * on it (those made on it or on any run below it) is released everywhere it holds something
     * (the run, its ancestors, the runs below it, and the reservation's other subjects: user,
     * tool, ...), and later checks on it or on any run below it are denied
     * (DENIAL_CODE_BLOCKED); records naming it still count. Repeating it is harmless.
     * NOT_FOUND when the run is not open (never opened, or past its time to live).
     * </pre>
     */
    public void endRun(dev.quotasidecar.v1.EndRunRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.EndRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getEndRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Reads one subject's recorded spend per quota day (as its quota defines days: reset hour and
     * time zone) and per quota month, within the server's history retention.
     * </pre>
     */
    public void getUsageHistory(dev.quotasidecar.v1.GetUsageHistoryRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GetUsageHistoryResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetUsageHistoryMethod(), responseObserver);
    }

    /**
     * <pre>
     * Grows an open hold while its call streams: to a new total cost (or the price of a new
     * total of tokens), on every subject the hold holds on (the user, the tool, the model, the
     * run and its ancestors) atomically, or on none. Denied (extended false, with the code and
     * reason) when a budget has no room for it: the hold stays as it was, and the caller must
     * stop the stream and settle it with what was used (RecordUsageRequest.cut_short). The
     * request names a TOTAL, so a retry changes nothing twice. NOT_FOUND when the hold is no
     * longer open (settled, released, or its lease ended).
     * </pre>
     */
    public void extendReservation(dev.quotasidecar.v1.ExtendReservationRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ExtendReservationResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getExtendReservationMethod(), responseObserver);
    }

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
          .addMethod(
            getCheckQuotaMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.CheckQuotaRequest,
                dev.quotasidecar.v1.CheckQuotaResponse>(
                  this, METHODID_CHECK_QUOTA)))
          .addMethod(
            getRecordUsageMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.RecordUsageRequest,
                dev.quotasidecar.v1.RecordUsageResponse>(
                  this, METHODID_RECORD_USAGE)))
          .addMethod(
            getGetUsageMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.GetUsageRequest,
                dev.quotasidecar.v1.GetUsageResponse>(
                  this, METHODID_GET_USAGE)))
          .addMethod(
            getStreamAlertsMethod(),
            io.grpc.stub.ServerCalls.asyncServerStreamingCall(
              new MethodHandlers<
                dev.quotasidecar.v1.StreamAlertsRequest,
                dev.quotasidecar.v1.StreamAlertsResponse>(
                  this, METHODID_STREAM_ALERTS)))
          .addMethod(
            getEndRunMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.EndRunRequest,
                dev.quotasidecar.v1.EndRunResponse>(
                  this, METHODID_END_RUN)))
          .addMethod(
            getGetUsageHistoryMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.GetUsageHistoryRequest,
                dev.quotasidecar.v1.GetUsageHistoryResponse>(
                  this, METHODID_GET_USAGE_HISTORY)))
          .addMethod(
            getExtendReservationMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.ExtendReservationRequest,
                dev.quotasidecar.v1.ExtendReservationResponse>(
                  this, METHODID_EXTEND_RESERVATION)))
          .build();
    }
  }

  /**
   * <pre>
   * Answers "may this call happen now, at this estimated cost?" and records what it really cost.
   * </pre>
   */
  public static final class QuotaServiceStub extends io.grpc.stub.AbstractAsyncStub<QuotaServiceStub> {
    private QuotaServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected QuotaServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new QuotaServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Checks every subject together. Either all allow and one request (plus the estimated tokens,
     * plus the estimated cost when reserve is set) is consumed in each, or nothing is consumed.
     * </pre>
     */
    public void checkQuota(dev.quotasidecar.v1.CheckQuotaRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.CheckQuotaResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCheckQuotaMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Records the actual cost and tokens of a call, settling its reservation if one is given.
     * Idempotent per idempotency_key for 24 hours.
     * </pre>
     */
    public void recordUsage(dev.quotasidecar.v1.RecordUsageRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.RecordUsageResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRecordUsageMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Reads one subject's usage, limits, remaining amounts, reset times and cost breakdown.
     * </pre>
     */
    public void getUsage(dev.quotasidecar.v1.GetUsageRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GetUsageResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetUsageMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams alerts raised on any replica: an optional replay from a cursor, then live alerts.
     * </pre>
     */
    public void streamAlerts(dev.quotasidecar.v1.StreamAlertsRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.StreamAlertsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getStreamAlertsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Ends a run (see CheckQuotaRequest.run_id) before its time to live: every reservation open
     * on it (those made on it or on any run below it) is released everywhere it holds something
     * (the run, its ancestors, the runs below it, and the reservation's other subjects: user,
     * tool, ...), and later checks on it or on any run below it are denied
     * (DENIAL_CODE_BLOCKED); records naming it still count. Repeating it is harmless.
     * NOT_FOUND when the run is not open (never opened, or past its time to live).
     * </pre>
     */
    public void endRun(dev.quotasidecar.v1.EndRunRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.EndRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getEndRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Reads one subject's recorded spend per quota day (as its quota defines days: reset hour and
     * time zone) and per quota month, within the server's history retention.
     * </pre>
     */
    public void getUsageHistory(dev.quotasidecar.v1.GetUsageHistoryRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GetUsageHistoryResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetUsageHistoryMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Grows an open hold while its call streams: to a new total cost (or the price of a new
     * total of tokens), on every subject the hold holds on (the user, the tool, the model, the
     * run and its ancestors) atomically, or on none. Denied (extended false, with the code and
     * reason) when a budget has no room for it: the hold stays as it was, and the caller must
     * stop the stream and settle it with what was used (RecordUsageRequest.cut_short). The
     * request names a TOTAL, so a retry changes nothing twice. NOT_FOUND when the hold is no
     * longer open (settled, released, or its lease ended).
     * </pre>
     */
    public void extendReservation(dev.quotasidecar.v1.ExtendReservationRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ExtendReservationResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getExtendReservationMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * <pre>
   * Answers "may this call happen now, at this estimated cost?" and records what it really cost.
   * </pre>
   */
  public static final class QuotaServiceBlockingStub extends io.grpc.stub.AbstractBlockingStub<QuotaServiceBlockingStub> {
    private QuotaServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected QuotaServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new QuotaServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Checks every subject together. Either all allow and one request (plus the estimated tokens,
     * plus the estimated cost when reserve is set) is consumed in each, or nothing is consumed.
     * </pre>
     */
    public dev.quotasidecar.v1.CheckQuotaResponse checkQuota(dev.quotasidecar.v1.CheckQuotaRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCheckQuotaMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Records the actual cost and tokens of a call, settling its reservation if one is given.
     * Idempotent per idempotency_key for 24 hours.
     * </pre>
     */
    public dev.quotasidecar.v1.RecordUsageResponse recordUsage(dev.quotasidecar.v1.RecordUsageRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRecordUsageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Reads one subject's usage, limits, remaining amounts, reset times and cost breakdown.
     * </pre>
     */
    public dev.quotasidecar.v1.GetUsageResponse getUsage(dev.quotasidecar.v1.GetUsageRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetUsageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams alerts raised on any replica: an optional replay from a cursor, then live alerts.
     * </pre>
     */
    public java.util.Iterator<dev.quotasidecar.v1.StreamAlertsResponse> streamAlerts(
        dev.quotasidecar.v1.StreamAlertsRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getStreamAlertsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Ends a run (see CheckQuotaRequest.run_id) before its time to live: every reservation open
     * on it (those made on it or on any run below it) is released everywhere it holds something
     * (the run, its ancestors, the runs below it, and the reservation's other subjects: user,
     * tool, ...), and later checks on it or on any run below it are denied
     * (DENIAL_CODE_BLOCKED); records naming it still count. Repeating it is harmless.
     * NOT_FOUND when the run is not open (never opened, or past its time to live).
     * </pre>
     */
    public dev.quotasidecar.v1.EndRunResponse endRun(dev.quotasidecar.v1.EndRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getEndRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Reads one subject's recorded spend per quota day (as its quota defines days: reset hour and
     * time zone) and per quota month, within the server's history retention.
     * </pre>
     */
    public dev.quotasidecar.v1.GetUsageHistoryResponse getUsageHistory(dev.quotasidecar.v1.GetUsageHistoryRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetUsageHistoryMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Grows an open hold while its call streams: to a new total cost (or the price of a new
     * total of tokens), on every subject the hold holds on (the user, the tool, the model, the
     * run and its ancestors) atomically, or on none. Denied (extended false, with the code and
     * reason) when a budget has no room for it: the hold stays as it was, and the caller must
     * stop the stream and settle it with what was used (RecordUsageRequest.cut_short). The
     * request names a TOTAL, so a retry changes nothing twice. NOT_FOUND when the hold is no
     * longer open (settled, released, or its lease ended).
     * </pre>
     */
    public dev.quotasidecar.v1.ExtendReservationResponse extendReservation(dev.quotasidecar.v1.ExtendReservationRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getExtendReservationMethod(), getCallOptions(), request);
    }
  }

  /**
   * <pre>
   * Answers "may this call happen now, at this estimated cost?" and records what it really cost.
   * </pre>
   */
  public static final class QuotaServiceFutureStub extends io.grpc.stub.AbstractFutureStub<QuotaServiceFutureStub> {
    private QuotaServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected QuotaServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new QuotaServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Checks every subject together. Either all allow and one request (plus the estimated tokens,
     * plus the estimated cost when reserve is set) is consumed in each, or nothing is consumed.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.CheckQuotaResponse> checkQuota(
        dev.quotasidecar.v1.CheckQuotaRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCheckQuotaMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Records the actual cost and tokens of a call, settling its reservation if one is given.
     * Idempotent per idempotency_key for 24 hours.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.RecordUsageResponse> recordUsage(
        dev.quotasidecar.v1.RecordUsageRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRecordUsageMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Reads one subject's usage, limits, remaining amounts, reset times and cost breakdown.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.GetUsageResponse> getUsage(
        dev.quotasidecar.v1.GetUsageRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetUsageMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Ends a run (see CheckQuotaRequest.run_id) before its time to live: every reservation open
     * on it (those made on it or on any run below it) is released everywhere it holds something
     * (the run, its ancestors, the runs below it, and the reservation's other subjects: user,
     * tool, ...), and later checks on it or on any run below it are denied
     * (DENIAL_CODE_BLOCKED); records naming it still count. Repeating it is harmless.
     * NOT_FOUND when the run is not open (never opened, or past its time to live).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.EndRunResponse> endRun(
        dev.quotasidecar.v1.EndRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getEndRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Reads one subject's recorded spend per quota day (as its quota defines days: reset hour and
     * time zone) and per quota month, within the server's history retention.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.GetUsageHistoryResponse> getUsageHistory(
        dev.quotasidecar.v1.GetUsageHistoryRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetUsageHistoryMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Grows an open hold while its call streams: to a new total cost (or the price of a new
     * total of tokens), on every subject the hold holds on (the user, the tool, the model, the
     * run and its ancestors) atomically, or on none. Denied (extended false, with the code and
     * reason) when a budget has no room for it: the hold stays as it was, and the caller must
     * stop the stream and settle it with what was used (RecordUsageRequest.cut_short). The
     * request names a TOTAL, so a retry changes nothing twice. NOT_FOUND when the hold is no
     * longer open (settled, released, or its lease ended).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.ExtendReservationResponse> extendReservation(
        dev.quotasidecar.v1.ExtendReservationRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getExtendReservationMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CHECK_QUOTA = 0;
  private static final int METHODID_RECORD_USAGE = 1;
  private static final int METHODID_GET_USAGE = 2;
  private static final int METHODID_STREAM_ALERTS = 3;
  private static final int METHODID_END_RUN = 4;
  private static final int METHODID_GET_USAGE_HISTORY = 5;
  private static final int METHODID_EXTEND_RESERVATION = 6;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final QuotaServiceImplBase serviceImpl;
    private final int methodId;

    MethodHandlers(QuotaServiceImplBase serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_CHECK_QUOTA:
          serviceImpl.checkQuota((dev.quotasidecar.v1.CheckQuotaRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.CheckQuotaResponse>) responseObserver);
          break;
        case METHODID_RECORD_USAGE:
          serviceImpl.recordUsage((dev.quotasidecar.v1.RecordUsageRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.RecordUsageResponse>) responseObserver);
          break;
        case METHODID_GET_USAGE:
          serviceImpl.getUsage((dev.quotasidecar.v1.GetUsageRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GetUsageResponse>) responseObserver);
          break;
        case METHODID_STREAM_ALERTS:
          serviceImpl.streamAlerts((dev.quotasidecar.v1.StreamAlertsRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.StreamAlertsResponse>) responseObserver);
          break;
        case METHODID_END_RUN:
          serviceImpl.endRun((dev.quotasidecar.v1.EndRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.EndRunResponse>) responseObserver);
          break;
        case METHODID_GET_USAGE_HISTORY:
          serviceImpl.getUsageHistory((dev.quotasidecar.v1.GetUsageHistoryRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GetUsageHistoryResponse>) responseObserver);
          break;
        case METHODID_EXTEND_RESERVATION:
          serviceImpl.extendReservation((dev.quotasidecar.v1.ExtendReservationRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ExtendReservationResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  private static abstract class QuotaServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    QuotaServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.quotasidecar.v1.Quota.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("QuotaService");
    }
  }

  private static final class QuotaServiceFileDescriptorSupplier
      extends QuotaServiceBaseDescriptorSupplier {
    QuotaServiceFileDescriptorSupplier() {}
  }

  private static final class QuotaServiceMethodDescriptorSupplier
      extends QuotaServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final String methodName;

    QuotaServiceMethodDescriptorSupplier(String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (QuotaServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new QuotaServiceFileDescriptorSupplier())
              .addMethod(getCheckQuotaMethod())
              .addMethod(getRecordUsageMethod())
              .addMethod(getGetUsageMethod())
              .addMethod(getStreamAlertsMethod())
              .addMethod(getEndRunMethod())
              .addMethod(getGetUsageHistoryMethod())
              .addMethod(getExtendReservationMethod())
              .build();
        }
      }
    }
    return result;
  }
}
