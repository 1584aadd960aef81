using System.ComponentModel;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace LogAlert.Cli.Rules;

/// <summary>
/// What a rule's methods call first (<see cref="StackGuard"/> puts the call there): a recursion
/// that does not end fails the rule with an exception, where a stack overflow would end the process
/// with the runtime's dump of the stack, which no handler can catch, and lose the final report.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class RuleStack
{
    /// <summary>Throws when the stack is nearly full.</summary>
    public static void Check()
    {
        if (!RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new InsufficientExecutionStackException("recursion too deep: the stack is nearly full");
    }
}

/// <summary>
/// A rule file's text with a call of <see cref="RuleStack.Check"/> first in every method, local
/// function, accessor and block-bodied lambda: the ways code recurses (a lambda with an expression
/// body is left as it is: whether it returns a value cannot be told without binding it). An
/// expression body becomes a block. Edits of the text, none with a line break: the lines an
/// exception names are the file's.
/// </summary>
internal static class StackGuard
{
    private const string Call = " global::LogAlert.Cli.Rules.RuleStack.Check();";

    // A member written otherwise (a body the guard makes invalid) makes the guarded file fail to
    // compile, and the file is then compiled as written, without guards (RuleCompiler).
    public static string Guard(string text, CSharpParseOptions options)
    {
        var source = SourceText.From(text);
        var root = CSharpSyntaxTree.ParseText(source, options).GetRoot();
        var changes = new List<TextChange>();
        void Insert(SyntaxToken openBrace) => changes.Add(new TextChange(new TextSpan(openBrace.Span.End, 0), Call));
        void Expression(ArrowExpressionClauseSyntax arrow, SyntaxToken semicolon, bool returns, bool property = false)
        {
            if (semicolon.IsMissing) return;
            var open = property ? "{ get {" : "{";
            var close = property ? " } }" : " }";
            // `=> throw e` is a throw expression, which `return` cannot take: a throw statement.
            returns = returns && arrow.Expression is not ThrowExpressionSyntax;
            changes.Add(new TextChange(arrow.ArrowToken.Span, open + Call + (returns ? " return " : " ")));
            changes.Add(new TextChange(new TextSpan(semicolon.Span.End, 0), close));
        }
        foreach (var node in root.DescendantNodes())
        {
            switch (node)
            {
                case BaseMethodDeclarationSyntax { Body: { } body }: Insert(body.OpenBraceToken); break;
                case MethodDeclarationSyntax { ExpressionBody: { } arrow } m:
                    Expression(arrow, m.SemicolonToken, Returns(m.ReturnType, m.Modifiers)); break;
                case LocalFunctionStatementSyntax { Body: { } body }: Insert(body.OpenBraceToken); break;
                case LocalFunctionStatementSyntax { ExpressionBody: { } arrow } f:
                    Expression(arrow, f.SemicolonToken, Returns(f.ReturnType, f.Modifiers)); break;
                case AccessorDeclarationSyntax { Body: { } body }: Insert(body.OpenBraceToken); break;
                case AccessorDeclarationSyntax { ExpressionBody: { } arrow } a:
                    Expression(arrow, a.SemicolonToken, a.Keyword.IsKind(SyntaxKind.GetKeyword)); break;
                case PropertyDeclarationSyntax { ExpressionBody: { } arrow } p:
                    Expression(arrow, p.SemicolonToken, true, property: true); break;
                case AnonymousFunctionExpressionSyntax { Block: { } body }: Insert(body.OpenBraceToken); break;
            }
        }
        return changes.Count == 0 ? text : source.WithChanges(changes).ToString();
    }

    // Whether a method declared to return `returnType` returns a value from an expression body.
    private static bool Returns(TypeSyntax returnType, SyntaxTokenList modifiers)
    {
        if (returnType is PredefinedTypeSyntax { Keyword.RawKind: (int)SyntaxKind.VoidKeyword }) return false;
        if (!modifiers.Any(SyntaxKind.AsyncKeyword)) return true;
        var name = returnType switch
        {
            QualifiedNameSyntax q => q.Right,
            AliasQualifiedNameSyntax a => a.Name,
            SimpleNameSyntax s => s,
            _ => null,
        };
        return name is GenericNameSyntax; // async Task or ValueTask returns nothing; Task<T> a T
    }

    /// <summary>
    /// Reads the files a rule file <c>#load</c>s as <paramref name="inner"/> does, guarded: Roslyn
    /// parses them itself, so their text is guarded on its way in.
    /// </summary>
    public sealed class LoadResolver(SourceReferenceResolver inner, CSharpParseOptions options) : SourceReferenceResolver
    {
        private SourceReferenceResolver Inner => inner;

        public override string? NormalizePath(string path, string? baseFilePath) => inner.NormalizePath(path, baseFilePath);
        public override string? ResolveReference(string path, string? baseFilePath) => inner.ResolveReference(path, baseFilePath);
        public override Stream OpenRead(string resolvedPath) => inner.OpenRead(resolvedPath);

        public override SourceText ReadText(string resolvedPath)
        {
            var text = inner.ReadText(resolvedPath);
            return SourceText.From(Guard(text.ToString(), options), text.Encoding, text.ChecksumAlgorithm);
        }

        public override bool Equals(object? other) => other is LoadResolver r && r.Inner.Equals(inner);
        public override int GetHashCode() => inner.GetHashCode();
    }
}
