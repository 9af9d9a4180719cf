using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using Uses = System.Collections.Immutable.ImmutableArray<System.Reflection.Metadata.TypeDefinitionHandle>;

namespace LibvirtShim.Tests.Architecture;

/// <summary>
/// Which folders of an assembly use which, read from its metadata: every type a type names in its base type,
/// interfaces, fields, signatures, locals, attributes and method bodies (each IL token), attributed to the folder
/// of the outermost type (a lambda's closure belongs to the type that wrote the lambda).
/// </summary>
internal static class FolderDependencies
{
    /// <summary>
    /// Folder → the folders it uses, with one example "Type → Type" per edge; <paramref name="folderOf"/> maps a
    /// type's (namespace, name) to its folder, null for a type outside every folder.
    /// </summary>
    public static Dictionary<(string From, string To), string> Read(string assemblyPath, Func<string, string, string?> folderOf)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        MetadataReader md = pe.GetMetadataReader();
        var edges = new Dictionary<(string, string), string>();

        foreach (TypeDefinitionHandle handle in md.TypeDefinitions)
        {
            TypeDefinitionHandle outer = Outermost(md, handle);
            if (Folder(md, outer, folderOf) is not { } from) continue;
            foreach (TypeDefinitionHandle used in new TypeUses(md, pe).Of(handle))
            {
                TypeDefinitionHandle usedOuter = Outermost(md, used);
                if (Folder(md, usedOuter, folderOf) is not { } to || to == from) continue;
                edges.TryAdd((from, to), $"{FullName(md, outer)} → {FullName(md, usedOuter)}");
            }
        }
        return edges;
    }

    private static TypeDefinitionHandle Outermost(MetadataReader md, TypeDefinitionHandle handle)
    {
        while (md.GetTypeDefinition(handle).GetDeclaringType() is { IsNil: false } declaring) handle = declaring;
        return handle;
    }

    private static string? Folder(MetadataReader md, TypeDefinitionHandle handle, Func<string, string, string?> folderOf)
    {
        TypeDefinition type = md.GetTypeDefinition(handle);
        return folderOf(md.GetString(type.Namespace), md.GetString(type.Name));
    }

    private static string FullName(MetadataReader md, TypeDefinitionHandle handle)
    {
        TypeDefinition type = md.GetTypeDefinition(handle);
        string name = md.GetString(type.Name);
        return type.Namespace.IsNil ? name : $"{md.GetString(type.Namespace)}.{name}";
    }

    /// <summary>The assembly's own types that one type definition uses.</summary>
    private sealed class TypeUses(MetadataReader md, PEReader pe) : ISignatureTypeProvider<Uses, object?>
    {
        private static readonly Dictionary<short, OperandType> Operands = typeof(OpCodes)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(o => o.Value, o => o.OperandType);

        private readonly HashSet<TypeDefinitionHandle> _found = [];

        public HashSet<TypeDefinitionHandle> Of(TypeDefinitionHandle handle)
        {
            TypeDefinition type = md.GetTypeDefinition(handle);
            AddType(type.BaseType);
            foreach (InterfaceImplementationHandle i in type.GetInterfaceImplementations()) AddType(md.GetInterfaceImplementation(i).Interface);
            AddAttributes(type.GetCustomAttributes());
            foreach (FieldDefinitionHandle f in type.GetFields())
            {
                FieldDefinition field = md.GetFieldDefinition(f);
                Add(field.DecodeSignature(this, null));
                AddAttributes(field.GetCustomAttributes());
            }
            foreach (MethodDefinitionHandle m in type.GetMethods())
            {
                MethodDefinition method = md.GetMethodDefinition(m);
                AddSignature(method.DecodeSignature(this, null));
                AddAttributes(method.GetCustomAttributes());
                if (method.RelativeVirtualAddress != 0) AddBody(pe.GetMethodBody(method.RelativeVirtualAddress));
            }
            foreach (PropertyDefinitionHandle p in type.GetProperties()) AddAttributes(md.GetPropertyDefinition(p).GetCustomAttributes());
            return _found;
        }

        private void AddBody(MethodBodyBlock body)
        {
            if (!body.LocalSignature.IsNil)
                foreach (var local in md.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(this, null)) Add(local);
            BlobReader il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                short code = il.ReadByte();
                if (code == 0xFE) code = (short)(0xFE00 | il.ReadByte());
                switch (Operands[code])
                {
                    case OperandType.InlineNone: break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: il.Offset += 1; break;
                    case OperandType.InlineVar: il.Offset += 2; break;
                    case OperandType.InlineI8 or OperandType.InlineR: il.Offset += 8; break;
                    case OperandType.InlineSwitch:
                        int targets = il.ReadInt32();   // read before Offset, which += would read first
                        il.Offset += 4 * targets;
                        break;
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                        AddToken(MetadataTokens.EntityHandle(il.ReadInt32()));
                        break;
                    default: il.Offset += 4; break;
                }
            }
        }

        private void AddToken(EntityHandle handle)
        {
            switch (handle.Kind)
            {
                case HandleKind.MethodDefinition:
                    _found.Add(md.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType());
                    break;
                case HandleKind.FieldDefinition:
                    _found.Add(md.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType());
                    break;
                case HandleKind.MemberReference:
                    MemberReference member = md.GetMemberReference((MemberReferenceHandle)handle);
                    AddToken(member.Parent);
                    if (member.GetKind() == MemberReferenceKind.Method) AddSignature(member.DecodeMethodSignature(this, null));
                    else Add(member.DecodeFieldSignature(this, null));
                    break;
                case HandleKind.MethodSpecification:
                    MethodSpecification spec = md.GetMethodSpecification((MethodSpecificationHandle)handle);
                    AddToken(spec.Method);
                    foreach (var argument in spec.DecodeSignature(this, null)) Add(argument);
                    break;
                default:
                    AddType(handle);
                    break;
            }
        }

        private void AddType(EntityHandle handle)
        {
            if (handle.IsNil) return;
            if (handle.Kind == HandleKind.TypeDefinition) _found.Add((TypeDefinitionHandle)handle);
            else if (handle.Kind == HandleKind.TypeSpecification)
                Add(md.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null));
        }

        private void AddAttributes(CustomAttributeHandleCollection attributes)
        {
            foreach (CustomAttributeHandle a in attributes) AddToken(md.GetCustomAttribute(a).Constructor);
        }

        private void AddSignature(MethodSignature<Uses> signature)
        {
            Add(signature.ReturnType);
            foreach (var parameter in signature.ParameterTypes) Add(parameter);
        }

        private void Add(Uses types) => _found.UnionWith(types);

        public Uses GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => [handle];
        public Uses GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => [];
        public Uses GetTypeFromSpecification(MetadataReader reader, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, context);
        public Uses GetPrimitiveType(PrimitiveTypeCode typeCode) => [];
        public Uses GetSZArrayType(Uses elementType) => elementType;
        public Uses GetArrayType(Uses elementType, ArrayShape shape) => elementType;
        public Uses GetByReferenceType(Uses elementType) => elementType;
        public Uses GetPointerType(Uses elementType) => elementType;
        public Uses GetPinnedType(Uses elementType) => elementType;
        public Uses GetGenericInstantiation(Uses genericType,
            ImmutableArray<Uses> typeArguments) => [.. genericType, .. typeArguments.SelectMany(t => t)];
        public Uses GetGenericTypeParameter(object? context, int index) => [];
        public Uses GetGenericMethodParameter(object? context, int index) => [];
        public Uses GetFunctionPointerType(MethodSignature<Uses> signature) =>
            [.. signature.ReturnType, .. signature.ParameterTypes.SelectMany(t => t)];
        public Uses GetModifiedType(Uses modifier,
            Uses unmodifiedType, bool isRequired) => unmodifiedType;
    }
}
