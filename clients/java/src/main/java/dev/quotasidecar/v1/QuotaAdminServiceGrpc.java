package dev.quotasidecar.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Administers quotas. Changes are stored in Redis, so every replica sees them at once.
 * </pre>
 */
@javax.annotation.Generated(
    value = "by gRPC proto compiler",
    comments = "Source: quota_sidecar/v1/admin.proto")
@io.grpc.stub.annotations.GrpcGenerated
public final class QuotaAdminServiceGrpc {

  private QuotaAdminServiceGrpc() {}

  public static final String SERVICE_NAME = "quota_sidecar.v1.QuotaAdminService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.PutQuotaRequest,
      dev.quotasidecar.v1.PutQuotaResponse> getPutQuotaMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "PutQuota",
      requestType = dev.quotasidecar.v1.PutQuotaRequest.class,
      responseType = dev.quotasidecar.v1.PutQuotaResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.PutQuotaRequest,
      dev.quotasidecar.v1.PutQuotaResponse> getPutQuotaMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.PutQuotaRequest, dev.quotasidecar.v1.PutQuotaResponse> getPutQuotaMethod;
    if ((getPutQuotaMethod = QuotaAdminServiceGrpc.getPutQuotaMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getPutQuotaMethod = QuotaAdminServiceGrpc.getPutQuotaMethod) == null) {
          QuotaAdminServiceGrpc.getPutQuotaMethod = getPutQuotaMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.PutQuotaRequest, dev.quotasidecar.v1.PutQuotaResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "PutQuota"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.PutQuotaRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.PutQuotaResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("PutQuota"))
              .build();
        }
      }
    }
    return getPutQuotaMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.GetQuotaRequest,
      dev.quotasidecar.v1.GetQuotaResponse> getGetQuotaMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetQuota",
      requestType = dev.quotasidecar.v1.GetQuotaRequest.class,
      responseType = dev.quotasidecar.v1.GetQuotaResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.GetQuotaRequest,
      dev.quotasidecar.v1.GetQuotaResponse> getGetQuotaMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.GetQuotaRequest, dev.quotasidecar.v1.GetQuotaResponse> getGetQuotaMethod;
    if ((getGetQuotaMethod = QuotaAdminServiceGrpc.getGetQuotaMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getGetQuotaMethod = QuotaAdminServiceGrpc.getGetQuotaMethod) == null) {
          QuotaAdminServiceGrpc.getGetQuotaMethod = getGetQuotaMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.GetQuotaRequest, dev.quotasidecar.v1.GetQuotaResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetQuota"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.GetQuotaRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.GetQuotaResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("GetQuota"))
              .build();
        }
      }
    }
    return getGetQuotaMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListQuotasRequest,
      dev.quotasidecar.v1.ListQuotasResponse> getListQuotasMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListQuotas",
      requestType = dev.quotasidecar.v1.ListQuotasRequest.class,
      responseType = dev.quotasidecar.v1.ListQuotasResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListQuotasRequest,
      dev.quotasidecar.v1.ListQuotasResponse> getListQuotasMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListQuotasRequest, dev.quotasidecar.v1.ListQuotasResponse> getListQuotasMethod;
    if ((getListQuotasMethod = QuotaAdminServiceGrpc.getListQuotasMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getListQuotasMethod = QuotaAdminServiceGrpc.getListQuotasMethod) == null) {
          QuotaAdminServiceGrpc.getListQuotasMethod = getListQuotasMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.ListQuotasRequest, dev.quotasidecar.v1.ListQuotasResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListQuotas"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ListQuotasRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ListQuotasResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("ListQuotas"))
              .build();
        }
      }
    }
    return getListQuotasMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.DeleteQuotaRequest,
      dev.quotasidecar.v1.DeleteQuotaResponse> getDeleteQuotaMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeleteQuota",
      requestType = dev.quotasidecar.v1.DeleteQuotaRequest.class,
      responseType = dev.quotasidecar.v1.DeleteQuotaResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.DeleteQuotaRequest,
      dev.quotasidecar.v1.DeleteQuotaResponse> getDeleteQuotaMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.DeleteQuotaRequest, dev.quotasidecar.v1.DeleteQuotaResponse> getDeleteQuotaMethod;
    if ((getDeleteQuotaMethod = QuotaAdminServiceGrpc.getDeleteQuotaMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getDeleteQuotaMethod = QuotaAdminServiceGrpc.getDeleteQuotaMethod) == null) {
          QuotaAdminServiceGrpc.getDeleteQuotaMethod = getDeleteQuotaMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.DeleteQuotaRequest, dev.quotasidecar.v1.DeleteQuotaResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeleteQuota"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.DeleteQuotaRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.DeleteQuotaResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("DeleteQuota"))
              .build();
        }
      }
    }
    return getDeleteQuotaMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.GrantOverrideRequest,
      dev.quotasidecar.v1.GrantOverrideResponse> getGrantOverrideMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GrantOverride",
      requestType = dev.quotasidecar.v1.GrantOverrideRequest.class,
      responseType = dev.quotasidecar.v1.GrantOverrideResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.GrantOverrideRequest,
      dev.quotasidecar.v1.GrantOverrideResponse> getGrantOverrideMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.GrantOverrideRequest, dev.quotasidecar.v1.GrantOverrideResponse> getGrantOverrideMethod;
    if ((getGrantOverrideMethod = QuotaAdminServiceGrpc.getGrantOverrideMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getGrantOverrideMethod = QuotaAdminServiceGrpc.getGrantOverrideMethod) == null) {
          QuotaAdminServiceGrpc.getGrantOverrideMethod = getGrantOverrideMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.GrantOverrideRequest, dev.quotasidecar.v1.GrantOverrideResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GrantOverride"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.GrantOverrideRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.GrantOverrideResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("GrantOverride"))
              .build();
        }
      }
    }
    return getGrantOverrideMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.RevokeOverrideRequest,
      dev.quotasidecar.v1.RevokeOverrideResponse> getRevokeOverrideMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RevokeOverride",
      requestType = dev.quotasidecar.v1.RevokeOverrideRequest.class,
      responseType = dev.quotasidecar.v1.RevokeOverrideResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.RevokeOverrideRequest,
      dev.quotasidecar.v1.RevokeOverrideResponse> getRevokeOverrideMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.RevokeOverrideRequest, dev.quotasidecar.v1.RevokeOverrideResponse> getRevokeOverrideMethod;
    if ((getRevokeOverrideMethod = QuotaAdminServiceGrpc.getRevokeOverrideMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getRevokeOverrideMethod = QuotaAdminServiceGrpc.getRevokeOverrideMethod) == null) {
          QuotaAdminServiceGrpc.getRevokeOverrideMethod = getRevokeOverrideMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.RevokeOverrideRequest, dev.quotasidecar.v1.RevokeOverrideResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RevokeOverride"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.RevokeOverrideRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.RevokeOverrideResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("RevokeOverride"))
              .build();
        }
      }
    }
    return getRevokeOverrideMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListOverridesRequest,
      dev.quotasidecar.v1.ListOverridesResponse> getListOverridesMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListOverrides",
      requestType = dev.quotasidecar.v1.ListOverridesRequest.class,
      responseType = dev.quotasidecar.v1.ListOverridesResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListOverridesRequest,
      dev.quotasidecar.v1.ListOverridesResponse> getListOverridesMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListOverridesRequest, dev.quotasidecar.v1.ListOverridesResponse> getListOverridesMethod;
    if ((getListOverridesMethod = QuotaAdminServiceGrpc.getListOverridesMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getListOverridesMethod = QuotaAdminServiceGrpc.getListOverridesMethod) == null) {
          QuotaAdminServiceGrpc.getListOverridesMethod = getListOverridesMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.ListOverridesRequest, dev.quotasidecar.v1.ListOverridesResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListOverrides"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ListOverridesRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ListOverridesResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("ListOverrides"))
              .build();
        }
      }
    }
    return getListOverridesMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.ResetUsageRequest,
      dev.quotasidecar.v1.ResetUsageResponse> getResetUsageMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ResetUsage",
      requestType = dev.quotasidecar.v1.ResetUsageRequest.class,
      responseType = dev.quotasidecar.v1.ResetUsageResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.ResetUsageRequest,
      dev.quotasidecar.v1.ResetUsageResponse> getResetUsageMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.ResetUsageRequest, dev.quotasidecar.v1.ResetUsageResponse> getResetUsageMethod;
    if ((getResetUsageMethod = QuotaAdminServiceGrpc.getResetUsageMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getResetUsageMethod = QuotaAdminServiceGrpc.getResetUsageMethod) == null) {
          QuotaAdminServiceGrpc.getResetUsageMethod = getResetUsageMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.ResetUsageRequest, dev.quotasidecar.v1.ResetUsageResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ResetUsage"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ResetUsageRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ResetUsageResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("ResetUsage"))
              .build();
        }
      }
    }
    return getResetUsageMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListAuditEventsRequest,
      dev.quotasidecar.v1.ListAuditEventsResponse> getListAuditEventsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListAuditEvents",
      requestType = dev.quotasidecar.v1.ListAuditEventsRequest.class,
      responseType = dev.quotasidecar.v1.ListAuditEventsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListAuditEventsRequest,
      dev.quotasidecar.v1.ListAuditEventsResponse> getListAuditEventsMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListAuditEventsRequest, dev.quotasidecar.v1.ListAuditEventsResponse> getListAuditEventsMethod;
    if ((getListAuditEventsMethod = QuotaAdminServiceGrpc.getListAuditEventsMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getListAuditEventsMethod = QuotaAdminServiceGrpc.getListAuditEventsMethod) == null) {
          QuotaAdminServiceGrpc.getListAuditEventsMethod = getListAuditEventsMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.ListAuditEventsRequest, dev.quotasidecar.v1.ListAuditEventsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListAuditEvents"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ListAuditEventsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ListAuditEventsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("ListAuditEvents"))
              .build();
        }
      }
    }
    return getListAuditEventsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListTopSpendersRequest,
      dev.quotasidecar.v1.ListTopSpendersResponse> getListTopSpendersMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListTopSpenders",
      requestType = dev.quotasidecar.v1.ListTopSpendersRequest.class,
      responseType = dev.quotasidecar.v1.ListTopSpendersResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListTopSpendersRequest,
      dev.quotasidecar.v1.ListTopSpendersResponse> getListTopSpendersMethod() {
    io.grpc.MethodDescriptor<dev.quotasidecar.v1.ListTopSpendersRequest, dev.quotasidecar.v1.ListTopSpendersResponse> getListTopSpendersMethod;
    if ((getListTopSpendersMethod = QuotaAdminServiceGrpc.getListTopSpendersMethod) == null) {
      synchronized (QuotaAdminServiceGrpc.class) {
        if ((getListTopSpendersMethod = QuotaAdminServiceGrpc.getListTopSpendersMethod) == null) {
          QuotaAdminServiceGrpc.getListTopSpendersMethod = getListTopSpendersMethod =
              io.grpc.MethodDescriptor.<dev.quotasidecar.v1.ListTopSpendersRequest, dev.quotasidecar.v1.ListTopSpendersResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListTopSpenders"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ListTopSpendersRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.quotasidecar.v1.ListTopSpendersResponse.getDefaultInstance()))
              .setSchemaDescriptor(new QuotaAdminServiceMethodDescriptorSupplier("ListTopSpenders"))
              .build();
        }
      }
    }
    return getListTopSpendersMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static QuotaAdminServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<QuotaAdminServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<QuotaAdminServiceStub>() {
        @java.lang.Override
        public QuotaAdminServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new QuotaAdminServiceStub(channel, callOptions);
        }
      };
    return QuotaAdminServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static QuotaAdminServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<QuotaAdminServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<QuotaAdminServiceBlockingStub>() {
        @java.lang.Override
        public QuotaAdminServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new QuotaAdminServiceBlockingStub(channel, callOptions);
        }
      };
    return QuotaAdminServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static QuotaAdminServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<QuotaAdminServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<QuotaAdminServiceFutureStub>() {
        @java.lang.Override
        public QuotaAdminServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new QuotaAdminServiceFutureStub(channel, callOptions);
        }
      };
    return QuotaAdminServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Administers quotas. Changes are stored in Redis, so every replica sees them at once.
   * </pre>
   */
  public static abstract class QuotaAdminServiceImplBase implements io.grpc.BindableService {

    /**
     * <pre>
     * Creates or replaces the quota of a subject.
     * </pre>
     */
    public void putQuota(dev.quotasidecar.v1.PutQuotaRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.PutQuotaResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getPutQuotaMethod(), responseObserver);
    }

    /**
     * <pre>
     * Reads the quota in force for a subject: its own, else the scope default it follows
     * (quota_source says which); NOT_FOUND when neither is configured.
     * </pre>
     */
    public void getQuota(dev.quotasidecar.v1.GetQuotaRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GetQuotaResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetQuotaMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists quotas, optionally of one scope, a page at a time.
     * </pre>
     */
    public void listQuotas(dev.quotasidecar.v1.ListQuotasRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListQuotasResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListQuotasMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes the quota of a subject; NOT_FOUND when it has none of its own (a default it
     * follows is deleted only by naming the default, for example user:*).
     * </pre>
     */
    public void deleteQuota(dev.quotasidecar.v1.DeleteQuotaRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.DeleteQuotaResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteQuotaMethod(), responseObserver);
    }

    /**
     * <pre>
     * Grants an override (block, bypass, raised limit, bonus credit) until its expiry.
     * </pre>
     */
    public void grantOverride(dev.quotasidecar.v1.GrantOverrideRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GrantOverrideResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGrantOverrideMethod(), responseObserver);
    }

    /**
     * <pre>
     * Revokes an override before its expiry; NOT_FOUND when it is not in force.
     * </pre>
     */
    public void revokeOverride(dev.quotasidecar.v1.RevokeOverrideRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.RevokeOverrideResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRevokeOverrideMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists the overrides in force for a subject.
     * </pre>
     */
    public void listOverrides(dev.quotasidecar.v1.ListOverridesRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListOverridesResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListOverridesMethod(), responseObserver);
    }

    /**
     * <pre>
     * Clears a subject's usage: rate windows, today's and this month's spend. The week's and the
     * lifetime spend stay, and so do their alerts: RESOLVED is announced only for the day's and
     * the month's thresholds that the reset cleared.
     * </pre>
     */
    public void resetUsage(dev.quotasidecar.v1.ResetUsageRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ResetUsageResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getResetUsageMethod(), responseObserver);
    }

    /**
     * <pre>
     * Pages through the audit log, newest first.
     * </pre>
     */
    public void listAuditEvents(dev.quotasidecar.v1.ListAuditEventsRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListAuditEventsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListAuditEventsMethod(), responseObserver);
    }

    /**
     * <pre>
     * The subjects of a scope by spend in their current quota day or month, most first.
     * </pre>
     */
    public void listTopSpenders(dev.quotasidecar.v1.ListTopSpendersRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListTopSpendersResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListTopSpendersMethod(), responseObserver);
    }

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
          .addMethod(
            getPutQuotaMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.PutQuotaRequest,
                dev.quotasidecar.v1.PutQuotaResponse>(
                  this, METHODID_PUT_QUOTA)))
          .addMethod(
            getGetQuotaMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.GetQuotaRequest,
                dev.quotasidecar.v1.GetQuotaResponse>(
                  this, METHODID_GET_QUOTA)))
          .addMethod(
            getListQuotasMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.ListQuotasRequest,
                dev.quotasidecar.v1.ListQuotasResponse>(
                  this, METHODID_LIST_QUOTAS)))
          .addMethod(
            getDeleteQuotaMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.DeleteQuotaRequest,
                dev.quotasidecar.v1.DeleteQuotaResponse>(
                  this, METHODID_DELETE_QUOTA)))
          .addMethod(
            getGrantOverrideMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.GrantOverrideRequest,
                dev.quotasidecar.v1.GrantOverrideResponse>(
                  this, METHODID_GRANT_OVERRIDE)))
          .addMethod(
            getRevokeOverrideMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.RevokeOverrideRequest,
                dev.quotasidecar.v1.RevokeOverrideResponse>(
                  this, METHODID_REVOKE_OVERRIDE)))
          .addMethod(
            getListOverridesMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.ListOverridesRequest,
                dev.quotasidecar.v1.ListOverridesResponse>(
                  this, METHODID_LIST_OVERRIDES)))
          .addMethod(
            getResetUsageMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.ResetUsageRequest,
                dev.quotasidecar.v1.ResetUsageResponse>(
                  this, METHODID_RESET_USAGE)))
          .addMethod(
            getListAuditEventsMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.ListAuditEventsRequest,
                dev.quotasidecar.v1.ListAuditEventsResponse>(
                  this, METHODID_LIST_AUDIT_EVENTS)))
          .addMethod(
            getListTopSpendersMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                dev.quotasidecar.v1.ListTopSpendersRequest,
                dev.quotasidecar.v1.ListTopSpendersResponse>(
                  this, METHODID_LIST_TOP_SPENDERS)))
          .build();
    }
  }

  /**
   * <pre>
   * Administers quotas. Changes are stored in Redis, so every replica sees them at once.
   * </pre>
   */
  public static final class QuotaAdminServiceStub extends io.grpc.stub.AbstractAsyncStub<QuotaAdminServiceStub> {
    private QuotaAdminServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected QuotaAdminServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new QuotaAdminServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates or replaces the quota of a subject.
     * </pre>
     */
    public void putQuota(dev.quotasidecar.v1.PutQuotaRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.PutQuotaResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getPutQuotaMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Reads the quota in force for a subject: its own, else the scope default it follows
     * (quota_source says which); NOT_FOUND when neither is configured.
     * </pre>
     */
    public void getQuota(dev.quotasidecar.v1.GetQuotaRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GetQuotaResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetQuotaMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists quotas, optionally of one scope, a page at a time.
     * </pre>
     */
    public void listQuotas(dev.quotasidecar.v1.ListQuotasRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListQuotasResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListQuotasMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes the quota of a subject; NOT_FOUND when it has none of its own (a default it
     * follows is deleted only by naming the default, for example user:*).
     * </pre>
     */
    public void deleteQuota(dev.quotasidecar.v1.DeleteQuotaRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.DeleteQuotaResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeleteQuotaMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Grants an override (block, bypass, raised limit, bonus credit) until its expiry.
     * </pre>
     */
    public void grantOverride(dev.quotasidecar.v1.GrantOverrideRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GrantOverrideResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGrantOverrideMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Revokes an override before its expiry; NOT_FOUND when it is not in force.
     * </pre>
     */
    public void revokeOverride(dev.quotasidecar.v1.RevokeOverrideRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.RevokeOverrideResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRevokeOverrideMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists the overrides in force for a subject.
     * </pre>
     */
    public void listOverrides(dev.quotasidecar.v1.ListOverridesRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListOverridesResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListOverridesMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Clears a subject's usage: rate windows, today's and this month's spend. The week's and the
     * lifetime spend stay, and so do their alerts: RESOLVED is announced only for the day's and
     * the month's thresholds that the reset cleared.
     * </pre>
     */
    public void resetUsage(dev.quotasidecar.v1.ResetUsageRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ResetUsageResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getResetUsageMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Pages through the audit log, newest first.
     * </pre>
     */
    public void listAuditEvents(dev.quotasidecar.v1.ListAuditEventsRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListAuditEventsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListAuditEventsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * The subjects of a scope by spend in their current quota day or month, most first.
     * </pre>
     */
    public void listTopSpenders(dev.quotasidecar.v1.ListTopSpendersRequest request,
        io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListTopSpendersResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListTopSpendersMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * <pre>
   * Administers quotas. Changes are stored in Redis, so every replica sees them at once.
   * </pre>
   */
  public static final class QuotaAdminServiceBlockingStub extends io.grpc.stub.AbstractBlockingStub<QuotaAdminServiceBlockingStub> {
    private QuotaAdminServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected QuotaAdminServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new QuotaAdminServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates or replaces the quota of a subject.
     * </pre>
     */
    public dev.quotasidecar.v1.PutQuotaResponse putQuota(dev.quotasidecar.v1.PutQuotaRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getPutQuotaMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Reads the quota in force for a subject: its own, else the scope default it follows
     * (quota_source says which); NOT_FOUND when neither is configured.
     * </pre>
     */
    public dev.quotasidecar.v1.GetQuotaResponse getQuota(dev.quotasidecar.v1.GetQuotaRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetQuotaMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists quotas, optionally of one scope, a page at a time.
     * </pre>
     */
    public dev.quotasidecar.v1.ListQuotasResponse listQuotas(dev.quotasidecar.v1.ListQuotasRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListQuotasMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes the quota of a subject; NOT_FOUND when it has none of its own (a default it
     * follows is deleted only by naming the default, for example user:*).
     * </pre>
     */
    public dev.quotasidecar.v1.DeleteQuotaResponse deleteQuota(dev.quotasidecar.v1.DeleteQuotaRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteQuotaMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Grants an override (block, bypass, raised limit, bonus credit) until its expiry.
     * </pre>
     */
    public dev.quotasidecar.v1.GrantOverrideResponse grantOverride(dev.quotasidecar.v1.GrantOverrideRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGrantOverrideMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Revokes an override before its expiry; NOT_FOUND when it is not in force.
     * </pre>
     */
    public dev.quotasidecar.v1.RevokeOverrideResponse revokeOverride(dev.quotasidecar.v1.RevokeOverrideRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRevokeOverrideMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the overrides in force for a subject.
     * </pre>
     */
    public dev.quotasidecar.v1.ListOverridesResponse listOverrides(dev.quotasidecar.v1.ListOverridesRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListOverridesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Clears a subject's usage: rate windows, today's and this month's spend. The week's and the
     * lifetime spend stay, and so do their alerts: RESOLVED is announced only for the day's and
     * the month's thresholds that the reset cleared.
     * </pre>
     */
    public dev.quotasidecar.v1.ResetUsageResponse resetUsage(dev.quotasidecar.v1.ResetUsageRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getResetUsageMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Pages through the audit log, newest first.
     * </pre>
     */
    public dev.quotasidecar.v1.ListAuditEventsResponse listAuditEvents(dev.quotasidecar.v1.ListAuditEventsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListAuditEventsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The subjects of a scope by spend in their current quota day or month, most first.
     * </pre>
     */
    public dev.quotasidecar.v1.ListTopSpendersResponse listTopSpenders(dev.quotasidecar.v1.ListTopSpendersRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListTopSpendersMethod(), getCallOptions(), request);
    }
  }

  /**
   * <pre>
   * Administers quotas. Changes are stored in Redis, so every replica sees them at once.
   * </pre>
   */
  public static final class QuotaAdminServiceFutureStub extends io.grpc.stub.AbstractFutureStub<QuotaAdminServiceFutureStub> {
    private QuotaAdminServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected QuotaAdminServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new QuotaAdminServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates or replaces the quota of a subject.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.PutQuotaResponse> putQuota(
        dev.quotasidecar.v1.PutQuotaRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getPutQuotaMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Reads the quota in force for a subject: its own, else the scope default it follows
     * (quota_source says which); NOT_FOUND when neither is configured.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.GetQuotaResponse> getQuota(
        dev.quotasidecar.v1.GetQuotaRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetQuotaMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists quotas, optionally of one scope, a page at a time.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.ListQuotasResponse> listQuotas(
        dev.quotasidecar.v1.ListQuotasRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListQuotasMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes the quota of a subject; NOT_FOUND when it has none of its own (a default it
     * follows is deleted only by naming the default, for example user:*).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.DeleteQuotaResponse> deleteQuota(
        dev.quotasidecar.v1.DeleteQuotaRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeleteQuotaMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Grants an override (block, bypass, raised limit, bonus credit) until its expiry.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.GrantOverrideResponse> grantOverride(
        dev.quotasidecar.v1.GrantOverrideRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGrantOverrideMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Revokes an override before its expiry; NOT_FOUND when it is not in force.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.RevokeOverrideResponse> revokeOverride(
        dev.quotasidecar.v1.RevokeOverrideRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRevokeOverrideMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists the overrides in force for a subject.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.ListOverridesResponse> listOverrides(
        dev.quotasidecar.v1.ListOverridesRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListOverridesMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Clears a subject's usage: rate windows, today's and this month's spend. The week's and the
     * lifetime spend stay, and so do their alerts: RESOLVED is announced only for the day's and
     * the month's thresholds that the reset cleared.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.ResetUsageResponse> resetUsage(
        dev.quotasidecar.v1.ResetUsageRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getResetUsageMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Pages through the audit log, newest first.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.ListAuditEventsResponse> listAuditEvents(
        dev.quotasidecar.v1.ListAuditEventsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListAuditEventsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * The subjects of a scope by spend in their current quota day or month, most first.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.quotasidecar.v1.ListTopSpendersResponse> listTopSpenders(
        dev.quotasidecar.v1.ListTopSpendersRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListTopSpendersMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_PUT_QUOTA = 0;
  private static final int METHODID_GET_QUOTA = 1;
  private static final int METHODID_LIST_QUOTAS = 2;
  private static final int METHODID_DELETE_QUOTA = 3;
  private static final int METHODID_GRANT_OVERRIDE = 4;
  private static final int METHODID_REVOKE_OVERRIDE = 5;
  private static final int METHODID_LIST_OVERRIDES = 6;
  private static final int METHODID_RESET_USAGE = 7;
  private static final int METHODID_LIST_AUDIT_EVENTS = 8;
  private static final int METHODID_LIST_TOP_SPENDERS = 9;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final QuotaAdminServiceImplBase serviceImpl;
    private final int methodId;

    MethodHandlers(QuotaAdminServiceImplBase serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_PUT_QUOTA:
          serviceImpl.putQuota((dev.quotasidecar.v1.PutQuotaRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.PutQuotaResponse>) responseObserver);
          break;
        case METHODID_GET_QUOTA:
          serviceImpl.getQuota((dev.quotasidecar.v1.GetQuotaRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GetQuotaResponse>) responseObserver);
          break;
        case METHODID_LIST_QUOTAS:
          serviceImpl.listQuotas((dev.quotasidecar.v1.ListQuotasRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListQuotasResponse>) responseObserver);
          break;
        case METHODID_DELETE_QUOTA:
          serviceImpl.deleteQuota((dev.quotasidecar.v1.DeleteQuotaRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.DeleteQuotaResponse>) responseObserver);
          break;
        case METHODID_GRANT_OVERRIDE:
          serviceImpl.grantOverride((dev.quotasidecar.v1.GrantOverrideRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.GrantOverrideResponse>) responseObserver);
          break;
        case METHODID_REVOKE_OVERRIDE:
          serviceImpl.revokeOverride((dev.quotasidecar.v1.RevokeOverrideRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.RevokeOverrideResponse>) responseObserver);
          break;
        case METHODID_LIST_OVERRIDES:
          serviceImpl.listOverrides((dev.quotasidecar.v1.ListOverridesRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListOverridesResponse>) responseObserver);
          break;
        case METHODID_RESET_USAGE:
          serviceImpl.resetUsage((dev.quotasidecar.v1.ResetUsageRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ResetUsageResponse>) responseObserver);
          break;
        case METHODID_LIST_AUDIT_EVENTS:
          serviceImpl.listAuditEvents((dev.quotasidecar.v1.ListAuditEventsRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListAuditEventsResponse>) responseObserver);
          break;
        case METHODID_LIST_TOP_SPENDERS:
          serviceImpl.listTopSpenders((dev.quotasidecar.v1.ListTopSpendersRequest) request,
              (io.grpc.stub.StreamObserver<dev.quotasidecar.v1.ListTopSpendersResponse>) responseObserver);
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

  private static abstract class QuotaAdminServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    QuotaAdminServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.quotasidecar.v1.Admin.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("QuotaAdminService");
    }
  }

  private static final class QuotaAdminServiceFileDescriptorSupplier
      extends QuotaAdminServiceBaseDescriptorSupplier {
    QuotaAdminServiceFileDescriptorSupplier() {}
  }

  private static final class QuotaAdminServiceMethodDescriptorSupplier
      extends QuotaAdminServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final String methodName;

    QuotaAdminServiceMethodDescriptorSupplier(String methodName) {
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
      synchronized (QuotaAdminServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new QuotaAdminServiceFileDescriptorSupplier())
              .addMethod(getPutQuotaMethod())
              .addMethod(getGetQuotaMethod())
              .addMethod(getListQuotasMethod())
              .addMethod(getDeleteQuotaMethod())
              .addMethod(getGrantOverrideMethod())
              .addMethod(getRevokeOverrideMethod())
              .addMethod(getListOverridesMethod())
              .addMethod(getResetUsageMethod())
              .addMethod(getListAuditEventsMethod())
              .addMethod(getListTopSpendersMethod())
              .build();
        }
      }
    }
    return result;
  }
}
